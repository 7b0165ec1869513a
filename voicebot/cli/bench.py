"""`voicebot bench [--quick] [--json]`: every benchmark, one table (voicebot/bench/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from voicebot.cli.app import app, check_output, console, err_console, print_json

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


@app.command()
def bench(
    quick: Annotated[bool, typer.Option("--quick", help="fewer utterances and calls: ~5 minutes on 2 cores")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object instead of the table")] = False,
    out: Annotated[Path, typer.Option("--out", help="where the run's JSON and latest.md go")] = BENCH_DIR,
) -> None:
    """Speed, memory, capacity and accuracy, each beside a baseline measured in the same run."""
    from voicebot.bench.report import print_table, save
    from voicebot.bench.runner import run

    check_output("--out", out, folder=True)  # before the minutes of measuring, not after
    result = run(quick=quick, log=lambda line: err_console.print(f"[dim]{escape(line)}[/]", highlight=False))
    path = save(result, out)
    if as_json:
        print_json(result)
        return
    print_table(result, console)
    console.print(f"[dim]saved {escape(str(path))} and {escape(str(out / 'latest.md'))}[/]")
