"""A store operation a call needs failing mid-turn (a PIN check, a balance, a card block) never
leaves the caller in silence: the bot says it cannot reach the account system and hands the call
to a person of the default queue (escalated, reason system_unavailable); the queue entry and the
record go to the spool while the database is down and into it when it is back. Real failures: a
SQLite file another connection holds locked (the store takes the write lock at BEGIN, so its reads
wait and fail too), a PostgreSQL server stopped mid-call."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from flow_support import ALICE_PHONE, BANK, OPEN
from pg_support import private_cluster, start_cluster, stop_cluster
from secret_support import without_random_hex
from test_calls_audio import SUNDAY_NIGHT, WEEKDAY_NOON, flow, stack  # noqa: F401  (the bank flow, models loaded once)
from voicebot.audio import read_wav
from voicebot.events import Prompt
from voicebot.flow import CallEngine, load_flow
from voicebot.flow.scripted import pressed, said
from voicebot.pipeline import Session, Stack
from voicebot.speechgen import TELEPHONE
from voicebot.store import StoreUnavailable, open_store
from voicebot.transports.replay import play_call, replay_text

pg_cluster = pytest.fixture(scope="module")(private_cluster)

PIN_WORDS = "two four six eight"
SCRIPT = {
    "what's my balance": said("what's my balance", "check_balance"),
    "I lost my debit card": said("I lost my debit card", "report_lost_card"),
    "yes": said("yes", "affirm", yesno="yes"),
    "one two three four five six seven eight": said("one two three four five six seven eight", digits="12345678"),
    PIN_WORDS: said(PIN_WORDS, digits="2468"),
}
# PIN check: the database fails as the PIN is heard. Account request: the caller is verified and
# served (a card blocked), then asks for their balance, or to block their card, as it fails.
PIN_CHECK = ["what's my balance", "dtmf:12345678", PIN_WORDS]
BALANCE_AFTER_SERVICE = ["I lost my debit card", "dtmf:12345678", "dtmf:2468", "yes", "what's my balance"]
BLOCK_AFTER_SERVICE = ["what's my balance", "dtmf:12345678", "dtmf:2468", "yes", "I lost my debit card"]


class BreakingNlu:
    """Understands the script; the database breaks as the last turn is heard."""

    def __init__(self, breaks_at: str, breaks) -> None:
        self.breaks_at, self.breaks = breaks_at, breaks

    def understand(self, text, alternatives=()):
        if text == self.breaks_at:
            self.breaks()
        return SCRIPT[text]


def _call(store, turns: list[str], breaks) -> dict:
    engine = CallEngine(load_flow(BANK), store, caller_id=ALICE_PHONE, now=OPEN)
    session = replay_text(Session(engine, Stack(None, BreakingNlu(turns[-1], breaks), None)), turns)
    assert session._strand.errors == []  # no turn failed
    return session.engine.record.to_dict()


def _assert_handed_over(record: dict, caplog, operation: str) -> None:
    """The caller heard why and was put through; every turn the bot answered says something."""
    assert (record["outcome"], record["reason"], record["queue"]) == ("escalated", "system_unavailable", "general")
    assert all(t["bot"]["text"].strip() for t in record["turns"])  # handed over: no hang-up turn after
    last = record["turns"][-1]["bot"]["text"]
    assert "can't reach our account system" in last and "customer service" in last
    [warning] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
                 and "store operation" in r.getMessage()]
    assert operation in warning and "OperationalError" in warning and "system_unavailable" in warning
    assert "2468" not in without_random_hex(caplog.text) and "12345678" not in caplog.text


def _assert_stored(store, record: dict, spool: Path) -> None:
    """After the spool went in: the whole record, and the caller waiting for a person with why."""
    stored = store.call(record["call_id"])
    assert (stored["outcome"], stored["reason"], stored["queue"]) == ("escalated", "system_unavailable", "general")
    assert stored["turns"] == record["turns"] and stored["intents"] == record["intents"]
    [entry] = [e for e in store.waiting(["general"]) if e["call_id"] == record["call_id"]]
    assert (entry["reason"], entry["priority"]) == ("system_unavailable", "high")
    assert not spool.exists() or spool.read_text() == ""


def _locked_sqlite(tmp_path, monkeypatch):
    import voicebot.store.schema as schema

    monkeypatch.setattr(schema, "BUSY_TIMEOUT_MS", 300)  # a lock outlasting the busy timeout, soon
    db = tmp_path / "calls.db"
    store = open_store(str(db), demo=True)
    locker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    return db, store, locker


@pytest.mark.parametrize("turns, operation, intents", [
    (PIN_CHECK, "SqlLockout.failures_since", ["check_balance"]),  # read before the PIN is checked
    (BALANCE_AFTER_SERVICE, "SqlStore.get_customer", ["report_lost_card", "check_balance"]),
])
def test_a_locked_sqlite_file_mid_turn_hands_the_caller_to_a_person(tmp_path, monkeypatch, caplog, turns,
                                                                    operation, intents):
    db, store, locker = _locked_sqlite(tmp_path, monkeypatch)
    record = _call(store, turns, lambda: locker.execute("BEGIN EXCLUSIVE"))
    _assert_handed_over(record, caplog, operation)
    assert record["intents"] == intents  # after a card was blocked: escalated, not self-service
    locker.execute("ROLLBACK")
    later = open_store(str(db))
    later.start_worker(heartbeat=False)  # flushes the spool
    _assert_stored(later, record, tmp_path / "calls.db.spool.jsonl")
    later.stop_worker()


@pytest.mark.parametrize("turns, operation, intents", [
    (PIN_CHECK, "SqlLockout.failures_since", ["check_balance"]),
    (BLOCK_AFTER_SERVICE, "SqlStore.get_customer", ["check_balance", "report_lost_card"]),
])
def test_postgresql_gone_mid_turn_hands_the_caller_to_a_person(pg_cluster, tmp_path, monkeypatch, caplog, turns,
                                                               operation, intents):
    monkeypatch.chdir(tmp_path)  # a server database's spool is var/records.spool.jsonl
    url = pg_cluster.replace("postgresql+psycopg://postgres@", "postgresql+psycopg://postgres:s3cretpw@")
    store = open_store(url, demo=True)
    try:
        record = _call(store, turns, lambda: stop_cluster(pg_cluster))
    finally:
        start_cluster(pg_cluster)
    _assert_handed_over(record, caplog, operation)
    assert "s3cretpw" not in caplog.text
    assert record["intents"] == intents and record["done"] == []  # no card blocked, none said to be
    later = open_store(url)
    assert later.flush_spool() == 1
    _assert_stored(later, record, tmp_path / "var" / "records.spool.jsonl")


def test_after_hours_the_caller_whose_pin_check_fails_is_offered_a_callback_not_a_closed_line(
        tmp_path, monkeypatch):
    """The hand-over takes the queue's hours from the flow: at night the general queue's after-hours
    callback is offered (a spooled task), not a wait in a line nobody staffs."""
    db, store, locker = _locked_sqlite(tmp_path, monkeypatch)
    engine = CallEngine(load_flow(BANK), store, now=SUNDAY_NIGHT)
    engine.start()
    engine.handle(said("what's my balance", "check_balance"))
    engine.handle(pressed("12345678"))
    locker.execute("BEGIN EXCLUSIVE")
    offer = " ".join(a.text for a in engine.handle(pressed("2468")))
    assert "can't reach our account system" in offer and "call you back" in offer
    engine.handle(said("yes please", "affirm", yesno="yes"))
    assert (engine.record.outcome, engine.record.reason, engine.record.disposition) == (
        "escalated", "system_unavailable", "callback")
    locker.execute("ROLLBACK")
    assert store.flush_spool() == 1
    [task] = store.tasks("callback")
    assert task["call_id"] == engine.record.call_id and task["queue"] == "general"
    assert store.waiting() == []


def test_a_store_read_failing_raises_the_stores_own_error_naming_the_operation(tmp_path):
    """The flow knows only the Store Protocol: SQLAlchemy's errors do not cross it."""
    store = open_store(str(tmp_path / "v.db"))
    with sqlite3.connect(tmp_path / "v.db") as conn:
        conn.execute("DROP TABLE customers")  # the database refuses the statement
    with pytest.raises(StoreUnavailable) as err:
        store.verify_pin("12345678", "2468")
    assert (err.value.operation, err.value.error) == ("SqlStore.verify_pin", "OperationalError")
    assert "2468" not in str(err.value) and "12345678" not in str(err.value)


def test_a_caller_id_lookup_failing_at_the_greeting_greets_the_caller_unrecognised(tmp_path, caplog):
    store = open_store(str(tmp_path / "v.db"), demo=True)
    with sqlite3.connect(tmp_path / "v.db") as conn:
        conn.execute("ALTER TABLE customers RENAME TO gone")
    engine = CallEngine(load_flow(BANK), store, caller_id=ALICE_PHONE, now=OPEN)
    assert "How can I help you" in " ".join(a.text for a in engine.start())
    assert "SqlStore.find_by_phone" in caplog.text and engine.customer is None


@pytest.mark.slow
def test_a_spoken_call_whose_pin_check_meets_a_locked_database_is_handed_to_a_person(
        stack, flow, speak, tmp_path, monkeypatch, caplog):
    """The whole call from 8 kHz μ-law audio with line noise (VAD → Whisper → NLU → flow): another
    process locks the database as the bot asks for the PIN; the spoken PIN's check cannot be made."""
    db, store, locker = _locked_sqlite(tmp_path, monkeypatch)
    turns = ["what's my balance", "my customer number is one two three four five six seven eight", PIN_WORDS]
    session = Session(CallEngine(flow, store, now=WEEKDAY_NOON), stack)

    def lock_at_the_pin_prompt(event) -> None:
        if isinstance(event, Prompt) and "PIN" in event.text and not locker.in_transaction:
            locker.execute("BEGIN EXCLUSIVE")

    session.subscribe(lock_at_the_pin_prompt)
    play_call(session, [read_wav(speak(t, "piper", TELEPHONE)) for t in turns], patience=1)
    record = session.engine.record.to_dict()
    for t in record["turns"]:
        print(f"bot: {t['bot']['text']!r}\ncaller: {t['caller']['text']!r} -> {t['caller']['intent']}")
    assert session._strand.errors == [] and locker.in_transaction
    _assert_handed_over(record, caplog, "SqlLockout.failures_since")
    assert record["intents"] == ["check_balance"] and record["authenticated"] is False
    locker.execute("ROLLBACK")
    assert open_store(str(db)).flush_spool() == 1
    _assert_stored(store, record, tmp_path / "calls.db.spool.jsonl")


def test_a_caller_waiting_in_a_sip_queue_holds_on_while_the_database_is_locked(tmp_path, monkeypatch, caplog):
    """The SIP worker's wait in line polls the store for a free agent every 2 s and reads the
    caller's place for its announcements: with the database locked the caller holds on (no agent,
    the callback key alone, no place made up), with one warning, instead of the wait dying."""
    from types import SimpleNamespace

    from voicebot.transports.sip.waiting import CALLBACK_HINT, QueueWait

    db, store, locker = _locked_sqlite(tmp_path, monkeypatch)
    engine = CallEngine(load_flow(BANK), store, now=OPEN)
    engine.start()
    call = SimpleNamespace(call_id="sip-1", port=SimpleNamespace(session=SimpleNamespace(engine=engine)))
    wait = QueueWait(None, call, SimpleNamespace(queue="general", estimated_wait=60.0), announce_s=30)
    locker.execute("BEGIN EXCLUSIVE")
    assert wait._free_agent() is None and wait._free_agent() is None
    assert wait._announcement(10.0) == CALLBACK_HINT
    locker.execute("ROLLBACK")
    assert wait._announcement(10.0).endswith(CALLBACK_HINT) and wait._announcement(10.0) != CALLBACK_HINT
    [line] = [r.getMessage() for r in caplog.records if "while the caller waits" in r.getMessage()]
    assert "sip-1" in line and "OperationalError" in line
