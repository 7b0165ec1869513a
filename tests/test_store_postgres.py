"""The same store on a real PostgreSQL server (a private cluster started for this test module on a
Unix socket): schema, demo data, hashed PINs, a whole call written turn by turn, KPIs, callback
tasks and live agent status — the SQL is portable, not SQLite-only."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from flow_support import BANK, authenticate, start
from voicebot.flow import load_flow
from voicebot.flow.scripted import pressed, said
from voicebot.store import AgentState, open_store
from voicebot.store.kpis import compute_kpis

PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), None)


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; CI runs as root."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def pg_url():
    assert PG_BIN, "PostgreSQL server binaries not installed (scripts/setup.sh installs postgresql)"
    root = Path(tempfile.mkdtemp(prefix="voicebot-pg-"))  # not under pytest's root-only tmp dirs
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    subprocess.run(_as_postgres([f"{PG_BIN}/initdb", "-D", str(data), "-U", user, "-A", "trust"]),
                   check=True, capture_output=True)
    subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(data), "-w", "-l", str(root / "log"),
                                 "-o", f"-k {sock} -c listen_addresses='' -p 54329", "start"]),
                   check=True, capture_output=True)
    subprocess.run(_as_postgres([f"{PG_BIN}/createdb", "-h", str(sock), "-p", "54329", "-U", user, "voicebot"]),
                   check=True, capture_output=True)
    yield f"postgresql+psycopg://{user}@/voicebot?host={sock}&port=54329"
    subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(data), "-m", "fast", "stop"]), capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def test_demo_data_and_pins(pg_url):
    store = open_store(pg_url)
    open_store(pg_url)  # seeding twice is harmless
    alice = store.get_customer("12345678")
    assert (alice.first_name, alice.balance.to_eng_string()) == ("Alice", "1520.75")
    assert store.verify_pin("12345678", "2468") and not store.verify_pin("12345678", "1357")
    assert store.find_by_phone("+15551230002").vip


def test_a_whole_call_and_kpis(pg_url):
    store = open_store(pg_url)
    engine = start(load_flow(BANK), store)
    engine.handle(said("I lost my card", "report_lost_card"))
    authenticate(engine)
    engine.handle(said("no that's all", "deny", yesno="no"))
    engine.handle(pressed("5"))
    assert engine.record.outcome == "self_service"
    assert [c.status for c in store.get_customer("12345678").cards if c.kind == "debit"] == ["blocked"]
    [call] = [c for c in store.calls() if c["call_id"] == engine.record.call_id]
    assert call["csat"] == 5 and "2468" not in str(call)
    assert compute_kpis(store.calls())["csat_avg"] == 5.0


def test_tasks_and_agent_states(pg_url):
    store = open_store(pg_url)
    store.add_task({"kind": "callback", "caller_id": "+15551230001", "queue": "loans", "text": "",
                    "created_at": "2026-11-23T10:00:00+00:00"})
    assert store.tasks("callback")[-1]["queue"] == "loans"
    store.set_agent_state("maria", AgentState("busy", "2026-11-23T10:00:00+00:00", "2026-11-23T10:05:00+00:00"))
    store.set_agent_state("maria", AgentState("available", "2026-11-23T10:06:00+00:00"))
    assert store.agent_states()["maria"] == AgentState("available", "2026-11-23T10:06:00+00:00", None)
