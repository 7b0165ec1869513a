"""The SQLite store: demo data, hashed PINs, idempotent seeding, turns written as they happen,
callback tasks; and redaction: no PIN or customer ID anywhere in the record, the DB or the logs."""

from __future__ import annotations

import json
import logging
import sqlite3
from decimal import Decimal

import pytest
from flow_support import BANK, STRANGER, authenticate, fresh_store, start

from voicebot.flow import load_flow
from voicebot.flow.scripted import pressed, said
from voicebot.store import open_store
from voicebot.store.pins import hash_pin
from voicebot.store.schema import HEAD
from secret_support import without_random_hex


@pytest.fixture
def db_path(tmp_path):
    fresh_store(tmp_path)
    return tmp_path / "voicebot.db"


def test_demo_customers(db_path):
    store = open_store(str(db_path))
    alice = store.get_customer("12345678")
    assert (alice.first_name, alice.last_name, alice.phone, alice.vip) == (
        "Alice", "Moreno", "+15551230001", False)
    assert alice.balance == Decimal("1520.75") and alice.cards[0].kind == "debit"
    bob = store.find_by_phone("+15551230002")
    assert (bob.customer_id, bob.vip, bob.balance) == ("87654321", True, Decimal("98200.00"))
    assert len(store.recent_transactions("87654321")) == 2
    assert store.verify_pin("87654321", "1357") and not store.verify_pin("87654321", "2468")
    assert not store.verify_pin("00000000", "1357") and store.get_customer("00000000") is None


def test_pins_are_salted_scrypt_hashes(db_path):
    rows = sqlite3.connect(db_path).execute("SELECT pin_salt, pin_hash FROM customers").fetchall()
    salts = {bytes(salt) for salt, _ in rows}
    assert len(salts) == 2  # one salt per customer
    for salt, digest in rows:
        assert bytes(digest) in (hash_pin("2468", bytes(salt)), hash_pin("1357", bytes(salt)))
    dump = without_random_hex("\n".join(sqlite3.connect(db_path).iterdump()))
    assert "2468" not in dump and "1357" not in dump


def test_seeding_is_idempotent(db_path):
    open_store(str(db_path), demo=True)
    open_store(str(db_path), demo=True)
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM customers").fetchone() == (2,)


def test_env_var_and_default_path(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEBOT_DB", str(tmp_path / "env.db"))
    open_store()
    assert (tmp_path / "env.db").exists()


def test_each_turn_is_committed_when_it_happens(db_path):
    store = open_store(str(db_path))
    engine = start(load_flow(BANK), store)
    engine.handle(said("branch hours", "branch_hours"))
    # another connection sees the call and both turns before the call has ended
    calls = open_store(str(db_path)).calls()
    assert calls[0]["call_id"] == engine.record.call_id and calls[0].get("outcome") is None
    assert [t["caller"]["text"] for t in calls[0]["turns"]] == ["", "branch hours"]


def test_no_pin_or_customer_id_in_record_db_or_logs(db_path, caplog):
    caplog.set_level(logging.DEBUG)
    store = open_store(str(db_path))
    engine = start(load_flow(BANK), store)
    engine.handle(said("my balance please, my id is 12345678", "check_balance"))
    engine.handle(said("1 2 3 4 5 6 7 8", digits="12345678"))
    engine.handle(said("one three five seven", digits="1357"))  # wrong PIN first
    engine.handle(said("1 2 3 4 5 6 7 8", digits="12345678"))  # a spoken number is asked again
    engine.handle(pressed("2468"))
    engine.handle(said("oh and 2468 was my pin", "deny", yesno="no"))
    engine.handle(pressed("5"))
    record = without_random_hex(json.dumps(engine.record.to_dict()))
    dump = without_random_hex("\n".join(line for line in sqlite3.connect(db_path).iterdump()
                     if line.startswith(('INSERT INTO "calls"', 'INSERT INTO "turns"'))))
    assert "branch" not in dump and "balance please" in dump
    for secret in ("2468", "1357", "12345678", "1 2 3 4", "one three five seven"):
        assert secret not in record and secret not in dump and secret not in without_random_hex(caplog.text)
    turns = engine.record.to_dict()["turns"]
    assert turns[2]["caller"]["text"] == "****" and turns[2]["caller"]["entities"]["digits"] == "****"
    assert turns[4]["caller"]["text"] == "****" and turns[5]["caller"]["dtmf"] == "****"
    assert engine.record.authenticated and engine.record.outcome == "self_service"


def test_voicemail_transcript_is_redacted_too(tmp_path):
    store = fresh_store(tmp_path)
    engine = start(load_flow(BANK), store)
    engine.offer_voicemail("general")
    engine.handle(said("call me, account 12345678"))
    assert store.tasks("voicemail")[0]["text"] == "call me, account ****" and store.tasks()[0]["caller_id"] == STRANGER


def test_unfinished_call_is_listed_and_finished_one_replaces_it(tmp_path):
    store = fresh_store(tmp_path)
    engine = start(load_flow(BANK), store)
    engine.handle(said("balance", "check_balance"))
    authenticate(engine)
    engine.hangup()
    calls = store.calls()
    assert len(calls) == 1 and calls[0]["outcome"] == "self_service"
    assert len(calls[0]["turns"]) == len(store.turns(engine.record.call_id))


def test_an_older_database_is_migrated_in_place(tmp_path):
    """A database the first release made (ISO text timestamps, no tasks.recording) is upgraded by
    the Alembic migrations: rows kept, times become aware datetimes ordered by instant."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE calls (call_id VARCHAR(64) PRIMARY KEY, caller_id VARCHAR(32),"
                   " started_at VARCHAR(40) NOT NULL, ended_at VARCHAR(40), outcome VARCHAR(24), record JSON NOT NULL)")
        db.execute("CREATE TABLE tasks (id INTEGER PRIMARY KEY, kind VARCHAR(16), caller_id VARCHAR(32),"
                   " call_id VARCHAR(64), queue VARCHAR(32), text TEXT, created_at VARCHAR(40))")
        # 10:30 at UTC+2 is 08:30 UTC: earlier than 09:00 UTC, though it sorts later as text
        for call_id, at in (("b", "2026-11-23T09:00:00+00:00"), ("a", "2026-11-23T10:30:00+02:00")):
            db.execute("INSERT INTO calls VALUES (?, NULL, ?, ?, 'completed', ?)",
                       (call_id, at, at, json.dumps({"call_id": call_id, "started_at": at, "outcome": "completed"})))
    store = open_store(str(path))
    assert [c["call_id"] for c in store.calls()] == ["a", "b"]
    store.add_task({"kind": "voicemail", "text": "hi", "recording": "var/x.wav",
                    "created_at": "2026-11-23T10:00:00-05:00"})
    [task] = store.tasks("voicemail")
    assert task["recording"] == "var/x.wav" and task["created_at"] == "2026-11-23T15:00:00+00:00"
    assert sqlite3.connect(path).execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)


def test_opening_a_database_inserts_no_demo_customers(tmp_path):
    store = open_store(str(tmp_path / "mine.db"))
    assert store.get_customer("12345678") is None and store.find_by_phone("+15551230001") is None


@pytest.mark.parametrize("text, kept", [
    ("my pin is two four six eight, what's my balance", "my pin is ****, what's my balance"),
    ("it's 1 3 5 7 I think", "it's **** I think"),
    ("account one two three four five six seven eight please", "account **** please"),
    ("Oh, two. Four, six, eight.", "Oh, ****."),  # "Oh," before a pause is an interjection
    ("I paid 1,520.75 for twenty five things on the 3rd", "I paid 1,520.75 for twenty five things on the 3rd"),
    ("one or two things", "one or two things"),
])
def test_digit_strings_said_before_any_prompt_are_masked(tmp_path, text, kept):
    engine = start(load_flow(BANK), fresh_store(tmp_path))
    assert engine.redact_text(text) == kept


def test_a_failed_statement_never_carries_the_customer_number(tmp_path):
    """Its error is logged with the call and shown in eval reports: SQLAlchemy had put the
    statement's values in it ([parameters: ('12345678',)]). The store raises its own
    StoreUnavailable, from SQLAlchemy's error: neither carries them."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from voicebot.store import StoreUnavailable

    store = open_store(str(tmp_path / "v.db"), demo=True)
    with store.engine.begin() as conn:  # a schema this code no longer matches: every lookup fails
        conn.execute(text("ALTER TABLE customers RENAME COLUMN pin_salt TO salt"))
    for lookup in (lambda: store.get_customer("12345678"), lambda: store.verify_pin("12345678", "2468")):
        with pytest.raises(StoreUnavailable) as err:
            lookup()
        cause = err.value.__cause__
        assert isinstance(cause, OperationalError) and "parameters hidden" in str(cause)
        for error in (err.value, cause):
            assert "12345678" not in str(error) and "2468" not in str(error)
