"""`voicebot` console script. Commands live in one module per concern; this file wires them and
turns every VoicebotError into one line on stderr with exit code 2."""

from __future__ import annotations

import importlib
import logging
import os

from rich.markup import escape

from voicebot.cli.app import app, err_console
from voicebot.envvars import env_log_level
from voicebot.errors import VoicebotError

# Each module adds its commands to `app` when imported.
_COMMAND_MODULES = (
    "voicebot.cli.transcribe", "voicebot.cli.nlu", "voicebot.cli.calls", "voicebot.cli.report",
    "voicebot.cli.agents", "voicebot.cli.users", "voicebot.cli.serve", "voicebot.cli.bench",
)


def _load_commands() -> None:
    for name in _COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not a command module not yet written
                raise


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        logging.basicConfig(level=env_log_level("VOICEBOT_LOG"))
        _load_commands()
        app(standalone_mode=True)
    except VoicebotError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
