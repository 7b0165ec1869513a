"""`voicebot` console script. Commands live in one module per concern; this file wires them and
turns every VoicebotError into one line on stderr with exit code 2."""

from __future__ import annotations

import importlib
import logging
import os

import typer
from rich.markup import escape

from voicebot.cli.app import app, err_console
from voicebot.envvars import env_log_level
from voicebot.errors import VoicebotError

# Each module adds its commands to `app` when imported.
_COMMAND_MODULES = (
    "voicebot.cli.transcribe", "voicebot.cli.nlu", "voicebot.cli.calls", "voicebot.cli.report",
    "voicebot.cli.agents", "voicebot.cli.users", "voicebot.cli.serve", "voicebot.cli.bench",
)


def _base(name: str) -> type:
    """A base class of Typer's errors by name: Typer runs on Click or on its own copy of it."""
    return next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == name)


# Typer would print these in a box of several lines; voicebot says them in one, as its own errors.
_USAGE_ERROR, _CLICK_ERROR = _base("UsageError"), _base("ClickException")


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
        code = app(standalone_mode=False)  # Click's own errors come here, to be said in one line too
    except VoicebotError as exc:
        _error(str(exc))
        raise SystemExit(2) from None
    except _CLICK_ERROR as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `voicebot users`: its help, as Click shows it
            exc.show()
        elif isinstance(exc, _USAGE_ERROR):  # an unknown option, a missing argument, an unreadable file
            command = exc.ctx.command_path if exc.ctx is not None else "voicebot"
            _error(f"{command}: {exc.format_message()} (see {command} --help)")
        else:
            _error(exc.format_message())
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:  # Ctrl-C (Click turns it into Abort), as Click's standalone mode says it
        err_console.print("Aborted!", highlight=False)
        raise SystemExit(1) from None
    # as Click's standalone mode did: always exit, with typer.Exit's code (`fail`, eval --calls) or 0
    raise SystemExit(code if isinstance(code, int) else 0)


def _error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


if __name__ == "__main__":
    main()
