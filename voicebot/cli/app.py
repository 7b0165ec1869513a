"""The Typer app and the helpers every command shares (console, error exit, JSON output)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    name="voicebot",
    help="Offline voice-bot IVR: transcribe, train/eval/classify intents, replay calls, report KPIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, exit `code` (2 = the user's input is wrong)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def check_output(option: str, path: Path | str | None, folder: bool = False) -> None:
    """Fail at once, before any model loads or call runs, when `path` (a file, or with `folder` a
    folder that may not exist yet) cannot be written: a folder where a file goes or the other way
    round, a file in the way, no permission."""
    if path is None or str(path) == "-":
        return
    path = Path(path)
    if path.exists() and path.is_dir() != folder:
        fail(f"{option} {path}: is a {'file' if folder else 'folder'}; give a {'folder' if folder else 'file name'}")
    existing = path if folder and path.is_dir() else path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        fail(f"{option} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        fail(f"{option} {path}: cannot write in {existing} (permission denied)")
