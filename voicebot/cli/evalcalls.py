"""`voicebot eval --calls DIR`: the call regression suite (voicebot/evalcalls.py) on the command line.
Exit code 1 when a call ended differently from its expect.json, so CI can gate on it."""

from __future__ import annotations

from pathlib import Path

import typer

from voicebot.cli.app import console, err_console, print_json


def eval_calls(directory: Path, model: Path | None, as_json: bool) -> None:
    from voicebot.evalcalls import load_suite, render, run_suite

    cases = load_suite(directory)  # a broken suite fails before any model loads
    out = err_console if as_json else console

    def progress(result) -> None:
        out.print(f"{'ok  ' if result.ok else 'FAIL'} {result.name}", highlight=False)

    report = run_suite(cases, model=str(model) if model else None, on_result=progress)
    if as_json:
        print_json(report)
    else:
        render(report, console)
    if report["failed"]:
        raise typer.Exit(1)
