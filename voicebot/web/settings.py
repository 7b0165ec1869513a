"""What the web app needs to run: the store, the flow (queues, roster), where recordings live, the
session secret, and a clock (tests pin it to the day their replayed calls happened)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any


def _now() -> datetime:
    return datetime.now(timezone.utc)


def load_secret(path: Path) -> str:
    """$VOICEBOT_WEB_SECRET, else a random key kept in `path` (0600) so every worker and restart
    signs sessions alike."""
    from voicebot.errors import ConfigError
    from voicebot.keyfile import keep_secret

    if os.environ.get("VOICEBOT_WEB_SECRET"):
        secret, where = os.environ["VOICEBOT_WEB_SECRET"], "$VOICEBOT_WEB_SECRET"
    else:
        secret, where = keep_secret(path, lambda: secrets.token_urlsafe(48).encode()).decode().strip(), str(path)
    if len(secret) < 16:  # an empty or short key lets anyone sign a session cookie
        remedy = "" if where.startswith("$") else "; remove the file and a random one is made"
        raise ConfigError(f"{where}: the session signing key needs at least 16 characters (has {len(secret)}){remedy}")
    return secret


@dataclass
class WebSettings:
    store: Any
    flow: Any
    secret: str
    recordings: tuple[Path, ...] = (Path("var/calls"), Path("var/voicemail"))
    clock: Callable[[], datetime] = _now
    timezone: tzinfo | None = None  # the day the wallboard counts; default the server's zone
    service_level_seconds: float = 20.0  # answered within this many seconds counts for service level
    https_only: bool = False  # Secure cookies (set behind TLS)
    metrics_token: str | None = field(default_factory=lambda: os.environ.get("VOICEBOT_METRICS_TOKEN"))
    tick_seconds: float = 0.4  # how often live pages look for changes (< 1 s to the screen)

    def now(self) -> datetime:
        return self.clock()

    def day_start(self) -> datetime:
        local = self.now().astimezone(self.timezone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
