"""What each store Protocol promises, checked by behaviour on the SQL store: a change made through
one connection is what a second connection (another call, the web app) reads back; lookups of
what is not there answer None/False instead of raising; order and filters hold."""

from __future__ import annotations

from datetime import datetime

from datetime import date
from decimal import Decimal

from flow_support import fresh_store

from voicebot.store import open_store
from voicebot.store.protocols import AgentState, Card


def _other_connection(tmp_path):
    return open_store(str(tmp_path / "voicebot.db"))


# ---- CustomerStore --------------------------------------------------------------------------
def test_card_status_change_is_what_every_connection_then_reads(tmp_path):
    store = fresh_store(tmp_path)
    changed = store.set_card_status("12345678", "debit", "blocked")
    assert changed == Card(kind="debit", last4="4321", status="blocked")
    cards = {c.kind: c.status for c in _other_connection(tmp_path).get_customer("12345678").cards}
    assert cards == {"debit": "blocked", "credit": "inactive"}  # only the named card changed
    assert _other_connection(tmp_path).get_customer("87654321").cards[0].status == "active"  # Bob's too


def test_card_status_of_a_card_or_customer_that_does_not_exist_is_none(tmp_path):
    store = fresh_store(tmp_path)
    assert store.set_card_status("87654321", "credit", "active") is None  # Bob has no credit card
    assert store.set_card_status("00000000", "debit", "blocked") is None
    assert [c.status for c in store.get_customer("87654321").cards] == ["active"]


def test_recent_transactions_newest_first_limited_and_per_customer(tmp_path):
    store = fresh_store(tmp_path)
    alice = store.recent_transactions("12345678", 2)
    assert [(t.posted_on, t.description, t.amount) for t in alice] == [
        (date(2026, 11, 20), "Green Grocer", Decimal("-42.10")),
        (date(2026, 11, 18), "Salary from Acme", Decimal("2400.00")),
    ]
    assert len(store.recent_transactions("12345678")) == 3  # the default limit
    assert all("Tanaka" not in t.description and "Harbor" not in t.description
               for t in store.recent_transactions("12345678", 10))
    assert store.recent_transactions("00000000") == []


def test_customer_lookups_by_number_and_by_phone_agree(tmp_path):
    store = fresh_store(tmp_path)
    assert store.find_by_phone("+15551230001") == store.get_customer("12345678")
    assert store.find_by_phone("+15559990000") is None and store.find_by_phone("") is None


def test_pin_check_is_per_customer(tmp_path):
    store = fresh_store(tmp_path)
    assert store.verify_pin("12345678", "2468") and store.verify_pin("87654321", "1357")
    assert not store.verify_pin("12345678", "1357")  # Bob's PIN does not open Alice's account
    assert not store.verify_pin("12345678", "") and not store.verify_pin("12345678", "24680")
    assert not store.verify_pin("", "2468")


# ---- CallStore ------------------------------------------------------------------------------
def _header(call_id: str, started: str) -> dict:
    return {"call_id": call_id, "caller_id": "+15559990000", "started_at": started}


def test_a_call_is_readable_while_it_happens_and_finished_replaces_it(tmp_path):
    store = fresh_store(tmp_path)
    store.start_call(_header("c1", "2026-11-18T12:00:00-05:00"))
    store.add_turn("c1", 1, {"state": "main_menu"})
    store.add_turn("c1", 0, {"state": "greeting"})  # written out of order, read in seq order
    [live] = _other_connection(tmp_path).calls()
    assert live["call_id"] == "c1" and live.get("outcome") is None
    assert [t["state"] for t in live["turns"]] == ["greeting", "main_menu"]
    final = {**_header("c1", "2026-11-18T12:00:00-05:00"), "ended_at": "2026-11-18T12:03:00-05:00",
             "outcome": "transferred", "turns": [{"state": "greeting"}]}
    store.finish_call(final)
    [got] = _other_connection(tmp_path).calls()  # the finished record is the call now
    assert {key: got[key] for key in final} == final


def test_calls_come_back_in_start_order(tmp_path):
    store = fresh_store(tmp_path)
    for call_id, started in (("late", "2026-11-18T15:00:00-05:00"), ("early", "2026-11-18T09:00:00-05:00")):
        store.start_call(_header(call_id, started))
    assert [c["call_id"] for c in store.calls()] == ["early", "late"]


def test_finishing_a_call_that_never_started_still_stores_it(tmp_path):
    store = fresh_store(tmp_path)
    record = {**_header("c9", "2026-11-18T12:00:00-05:00"), "outcome": "abandoned",
              "ended_at": "2026-11-18T12:01:00-05:00"}
    store.finish_call(record)
    [got] = store.calls()
    assert {key: got[key] for key in record} == record


# ---- TaskStore ------------------------------------------------------------------------------
def test_tasks_keep_their_order_and_filter_by_kind(tmp_path):
    store = fresh_store(tmp_path)
    store.add_task({"kind": "callback", "caller_id": "+1", "queue": "loans", "created_at": "2026-11-18T12:01:00+00:00"})
    store.add_task({"kind": "voicemail", "caller_id": "+2", "text": "call me", "recording": "a.wav",
                    "created_at": "2026-11-18T12:02:00+00:00"})
    store.add_task({"kind": "callback", "caller_id": "+3", "created_at": "2026-11-18T12:03:00+00:00"})
    again = _other_connection(tmp_path)
    assert [t["caller_id"] for t in again.tasks()] == ["+1", "+2", "+3"]
    assert [t["caller_id"] for t in again.tasks("callback")] == ["+1", "+3"]
    [voicemail] = again.tasks("voicemail")
    assert (voicemail["text"], voicemail["recording"], voicemail["queue"]) == ("call me", "a.wav", None)
    assert again.tasks("nothing_like_this") == []


# ---- AgentStore -----------------------------------------------------------------------------
def test_agent_state_is_shared_and_the_latest_wins(tmp_path):
    store = fresh_store(tmp_path)
    assert "maria" not in store.agent_states()
    noon, seven_past = (datetime.fromisoformat(t) for t in ("2026-11-18T12:00:00-05:00", "2026-11-18T12:07:00-05:00"))
    store.set_agent_state("maria", AgentState("busy", noon, seven_past))
    assert _other_connection(tmp_path).agent_states()["maria"] == AgentState("busy", noon, seven_past)
    store.set_agent_state("maria", AgentState("available", seven_past))
    states = _other_connection(tmp_path).agent_states()
    assert states["maria"] == AgentState("available", seven_past, None)
    assert len(states) == 1  # one row per agent, updated in place
