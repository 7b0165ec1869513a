"""The same store on a real PostgreSQL server (a private cluster started for this test module on a
Unix socket): schema, demo data, hashed PINs, a whole call written turn by turn, KPIs, callback
tasks and live agent status — the SQL is portable, not SQLite-only."""

from __future__ import annotations

import pytest

from flow_support import BANK, authenticate, start
from voicebot.flow import load_flow
from voicebot.flow.scripted import pressed, said
from voicebot.store import AgentState, open_store
from voicebot.store.kpis import compute_kpis
from pg_support import private_cluster
from secret_support import without_random_hex

pg_url = pytest.fixture(scope="module")(private_cluster)


def test_demo_data_and_pins(pg_url):
    assert open_store(pg_url).get_customer("12345678") is None  # no demo data unless asked
    store = open_store(pg_url, demo=True)
    open_store(pg_url, demo=True)  # seeding twice is harmless
    alice = store.get_customer("12345678")
    assert (alice.first_name, alice.balance.to_eng_string()) == ("Alice", "1520.75")
    assert store.verify_pin("12345678", "2468") and not store.verify_pin("12345678", "1357")
    assert store.find_by_phone("+15551230002").vip


def test_a_whole_call_and_kpis(pg_url):
    # seeds itself: with pytest-xdist's default distribution this test can run on another worker
    # (another private cluster) than test_demo_data_and_pins
    store = open_store(pg_url, demo=True)
    engine = start(load_flow(BANK), store)
    engine.handle(said("I lost my card", "report_lost_card"))
    authenticate(engine)
    engine.handle(said("no that's all", "deny", yesno="no"))
    engine.handle(pressed("5"))
    assert engine.record.outcome == "self_service"
    assert [c.status for c in store.get_customer("12345678").cards if c.kind == "debit"] == ["blocked"]
    [call] = [c for c in store.calls() if c["call_id"] == engine.record.call_id]
    assert call["csat"] == 5 and "2468" not in without_random_hex(str(call))
    assert compute_kpis(store.calls())["csat_avg"] == 5.0


def test_tasks_and_agent_states(pg_url):
    store = open_store(pg_url)
    store.add_task({"kind": "callback", "caller_id": "+15551230001", "queue": "loans", "text": "",
                    "created_at": "2026-11-23T10:00:00+00:00"})
    assert store.tasks("callback")[-1]["queue"] == "loans"
    store.set_agent_state("maria", AgentState("busy", "2026-11-23T10:00:00+00:00", "2026-11-23T10:05:00+00:00"))
    store.set_agent_state("maria", AgentState("available", "2026-11-23T10:06:00+00:00"))
    state = store.agent_states()["maria"]
    assert (state.status, state.since.isoformat(), state.until) == ("available", "2026-11-23T10:06:00+00:00", None)
