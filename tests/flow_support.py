"""Helpers shared by the flow/store tests: a fresh demo store per test without paying for scrypt
each time (the seeded database is built once, then copied), and text-driven call helpers."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from tempfile import mkdtemp

from voicebot.flow import Ask, CallEngine, Say, Transfer
from voicebot.flow.scripted import pressed, said
from voicebot.store import open_store

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT / "flows" / "bank.yml"
EXAMPLES = ROOT / "flows" / "examples"
OPEN = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)  # Monday 10:00 in New York
ALICE_PHONE, BOB_PHONE, STRANGER = "+15551230001", "+15551230002", "+15559990000"


@lru_cache(maxsize=1)
def _seeded_template() -> Path:
    path = Path(mkdtemp(prefix="voicebot-seed-")) / "seed.db"
    open_store(str(path), demo=True).engine.dispose()
    return path


def fresh_store(tmp_path: Path):
    """A demo-seeded SQLite store of its own, in tmp_path."""
    target = tmp_path / "voicebot.db"
    shutil.copy(_seeded_template(), target)
    return open_store(str(target))


def text_of(actions) -> str:
    return " ".join(a.text for a in actions if isinstance(a, (Say, Ask)))


def transfer_of(actions) -> Transfer:
    return next(a for a in actions if isinstance(a, Transfer))


def start(flow, store, caller=STRANGER, now=OPEN) -> CallEngine:
    engine = CallEngine(flow, store, caller_id=caller, now=now)
    engine.start()
    return engine


def authenticate(engine, customer_id="12345678", pin="2468", spoken=True):
    first = said(" ".join(customer_id), digits=customer_id) if spoken else pressed(customer_id)
    assert "PIN" in text_of(engine.handle(first))
    return engine.handle(said(" ".join(pin), digits=pin) if spoken else pressed(pin))
