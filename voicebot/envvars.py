"""Numeric settings read from environment variables (thread counts, batch sizes, windows).

One reader so a typo (`VOICEBOT_WORKERS=two`) is one clear ConfigError naming the variable, not a
ValueError traceback from whichever module happened to read it first."""

from __future__ import annotations

import os

from voicebot.errors import ConfigError


def env_number(name: str, default: float) -> float:
    """The number in `name`, or `default` when it is unset or blank."""
    value = os.environ.get(name, "").strip()
    try:
        return float(value) if value else default
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected a number") from None


def env_count(name: str, default: int) -> int:
    """A whole count in `name` (threads, workers, batch size), or `default` when unset or blank."""
    number = env_number(name, default)
    if number != int(number) or number < 0:
        raise ConfigError(f"{name}={os.environ.get(name)!r}: expected a whole number ≥ 0")
    return int(number)


def env_log_level(name: str = "VOICEBOT_LOG", default: str = "WARNING") -> int:
    """A logging level by name in any case (debug, INFO) or number, or `default` when unset."""
    import logging

    value = os.environ.get(name, "").strip() or default
    level = int(value) if value.isdigit() else logging.getLevelName(value.upper())
    if not isinstance(level, int):
        raise ConfigError(f"{name}={value!r}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level
