"""The command line the evaluation scripts share: `--json` prints the report as JSON, otherwise its
table; extra boolean flags are passed to `evaluate` by name."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable


def run(doc: str, evaluate: Callable[..., dict], table: Callable[[dict], Iterable[str]],
        flags: dict[str, str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    for flag, help_ in (flags or {}).items():
        ap.add_argument(f"--{flag.replace('_', '-')}", action="store_true", help=help_)
    args = ap.parse_args()
    report = evaluate(**{flag: getattr(args, flag) for flag in flags or {}})
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for line in table(report):
        print(line)
