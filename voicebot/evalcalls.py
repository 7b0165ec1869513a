"""`voicebot eval --calls DIR`: a regression suite of whole recorded calls.

DIR holds one folder per call:

    turns.txt    one caller turn a line: a WAV file name (beside turns.txt), `dtmf:1234`, text
                 (understood without ASR), or an empty line (the caller stays silent)
    *.wav        without turns.txt, every WAV in name order is one turn
    expect.json  what the call must end with, any of: outcome, queue, reason, authenticated, csat,
                 priority, disposition, agent (checked); and how to place it: caller_id (the
                 caller's number), at (ISO start time, default a weekday noon in New York, so
                 business hours do not depend on when the suite runs), patience (times the caller
                 repeats a spoken turn the bot asks again for because it did not take it, default
                 1, as a person would; a PIN turned down as wrong is followed by the next turn)

Each call runs on a fresh temporary SQLite store seeded with the demo customers, so no call sees
another's agent busy spells, queue entries or locked PINs."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from voicebot.errors import ConfigError

# no customer_id: the record never holds the customer number (customer data), `authenticated` says who got in
CHECKED = ("outcome", "queue", "reason", "authenticated", "csat", "priority", "disposition", "agent")
SETTINGS = ("caller_id", "at", "patience")
DEFAULT_AT = "2026-11-18T12:00:00-05:00"  # a Wednesday noon in New York: inside business hours
DEFAULT_FLOW = Path(__file__).resolve().parents[1] / "flows" / "bank.yml"


@dataclass(frozen=True)
class CallCase:
    name: str
    turns: tuple[str, ...]  # WAV paths, dtmf:…, text, "" (silence)
    expect: dict[str, Any]
    caller_id: str | None = None
    at: datetime = field(default_factory=lambda: datetime.fromisoformat(DEFAULT_AT))
    patience: int = 1

    @property
    def audio(self) -> bool:
        return any(t.lower().endswith(".wav") for t in self.turns)


@dataclass(frozen=True)
class CallResult:
    name: str
    ok: bool
    got: dict[str, Any]
    differences: dict[str, tuple[Any, Any]]  # key → (expected, got)
    turns: int
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"call": self.name, "ok": self.ok, "turns": self.turns, "error": self.error, "got": self.got,
                "differences": {k: {"expected": e, "got": g} for k, (e, g) in self.differences.items()}}


def load_case(folder: Path) -> CallCase:
    expect_file = folder / "expect.json"
    if not expect_file.is_file():
        raise ConfigError(f"{folder}: no expect.json")
    try:
        spec = json.loads(expect_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{expect_file}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{expect_file}: not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"{expect_file}: expected an object of outcome/queue/… keys")
    unknown = sorted(set(spec) - set(CHECKED) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"{expect_file}: unknown keys {', '.join(unknown)} (allowed: {', '.join(CHECKED + SETTINGS)})")
    turns_file = folder / "turns.txt"
    if turns_file.is_file():
        try:
            lines = turns_file.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{turns_file}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                              "save it as UTF-8") from None
        turns = tuple(str(folder / t.strip()) if t.strip().lower().endswith(".wav") else t.strip() for t in lines)
        from voicebot.transports.replay import check_keys  # the pipeline loads for the run anyway

        for number, turn in enumerate(turns, 1):
            try:
                check_keys(turn)
            except ConfigError as exc:
                raise ConfigError(f"{turns_file}:{number}: {exc}") from None
    else:
        turns = tuple(str(p) for p in sorted(folder.glob("*.wav")))
    if not turns:
        raise ConfigError(f"{folder}: no turns.txt and no WAV turns")
    missing = [t for t in turns if t.lower().endswith(".wav") and not Path(t).is_file()]
    if missing:
        raise ConfigError(f"{turns_file}: turn file {missing[0]} does not exist")
    try:
        at = datetime.fromisoformat(str(spec.get("at", DEFAULT_AT)))
    except ValueError:
        raise ConfigError(f"{expect_file}: at={spec['at']!r} is not an ISO date-time") from None
    patience = spec.get("patience", 1)
    if type(patience) is not int or patience < 0:
        raise ConfigError(f"{expect_file}: patience={patience!r} is not a whole number ≥ 0")
    return CallCase(folder.name, turns, {k: spec[k] for k in CHECKED if k in spec}, spec.get("caller_id"),
                    at if at.tzinfo else at.astimezone(), patience)


def load_suite(directory: Path) -> list[CallCase]:
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory of call folders")
    folders = sorted(p for p in directory.iterdir() if p.is_dir() and (p / "expect.json").exists())
    if not folders:
        raise ConfigError(f"{directory}: no call folders with an expect.json")
    return [load_case(f) for f in folders]


def fresh_store(directory: Path) -> Any:
    """A new SQLite store in `directory` holding exactly the demo data."""
    from sqlalchemy.orm import Session as DbSession

    from voicebot.store import open_store
    from voicebot.store.seed import seed_demo

    store = open_store(f"sqlite:///{directory / 'calls.db'}")
    with DbSession(store.engine) as db:  # explicit: the store may stop seeding by itself
        seed_demo(db)
    return store


def run_case(case: CallCase, stack: Any, flow: Any) -> CallResult:
    from voicebot.audio import read_wav
    from voicebot.flow import CallEngine
    from voicebot.pipeline import Session
    from voicebot.transports.replay import play_call

    turns = [read_wav(t) if t.lower().endswith(".wav") else t for t in case.turns]
    with tempfile.TemporaryDirectory(prefix="voicebot-call-") as tmp:
        store = fresh_store(Path(tmp))
        try:
            engine = CallEngine(flow, store, caller_id=case.caller_id, now=case.at)
            session = play_call(Session(engine, stack, voicemail_dir=Path(tmp) / "voicemail"), turns, case.patience)
            record = session.engine.record.to_dict()
        finally:
            store.engine.dispose()  # the temp file closes before its folder goes
    got = {k: record.get(k) for k in CHECKED}
    diff = {k: (v, got[k]) for k, v in case.expect.items() if got[k] != v}
    return CallResult(case.name, not diff, got, diff, len(record.get("turns", [])))


def run_suite(cases: Sequence[CallCase], *, flow_path: Path = DEFAULT_FLOW, backend: str = "whisper",
              model: str | None = None, on_result: Callable[[CallResult], None] | None = None) -> dict[str, Any]:
    from voicebot.flow import load_flow
    from voicebot.pipeline import Stack

    flow = load_flow(flow_path)
    stack = Stack.load(asr=backend if any(c.audio for c in cases) else None, tts=None, model=model)
    results = []
    for case in cases:
        try:
            result = run_case(case, stack, flow)
        except Exception as exc:  # noqa: BLE001 - one call that crashes is a failed call, the suite goes on
            result = CallResult(case.name, False, dict.fromkeys(CHECKED), {}, 0, f"{type(exc).__name__}: {exc}")
        results.append(result)
        if on_result:
            on_result(result)
    passed = sum(r.ok for r in results)
    return {"calls": len(results), "passed": passed, "failed": len(results) - passed,
            "flow": str(flow_path), "results": [r.to_dict() for r in results]}


def render(report: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title=f"calls: {report['passed']} of {report['calls']} ended right")
    for col in ("call", "result", "outcome", "queue", "reason", "what differed"):
        table.add_column(col, overflow="fold")
    for r in report["results"]:
        g = r["got"]
        diff = r["error"] or "; ".join(f"{k}: expected {d['expected']!r}, got {d['got']!r}" for k, d in r["differences"].items())
        table.add_row(r["call"], "[green]ok[/]" if r["ok"] else "[red]FAIL[/]", str(g["outcome"]), str(g["queue"]),
                      str(g["reason"]), diff or "-")
    console.print(table)
