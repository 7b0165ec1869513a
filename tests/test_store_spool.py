"""A database failure mid-call loses no call record: the writes the database refuses go to a local
spool (masked like the store's rows), the call ends as it really did, and the spool is written into
the database later — by the next worker's start or `voicebot db flush-spool` — exactly once.
Real failures: a SQLite file another process holds locked, a PostgreSQL server stopped mid-call."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from flow_support import ALICE_PHONE, BANK, OPEN
from pg_support import private_cluster, start_cluster, stop_cluster
from secret_support import without_random_hex
from voicebot.flow import CallEngine, load_flow
from voicebot.flow.scripted import said
from voicebot.pipeline import Session, Stack
from voicebot.store import open_store
from voicebot.transports.replay import replay_text

ROOT = Path(__file__).resolve().parents[1]
pg_cluster = pytest.fixture(scope="module")(private_cluster)

# The lost-card call of the demo bank; the database fails when the caller says "no that's all".
BREAKS_AT = "no that's all thanks"
TURNS = ["I lost my debit card", "dtmf:12345678", "dtmf:2468", BREAKS_AT, "dtmf:5"]
SCRIPT = {"I lost my debit card": said("I lost my debit card", "report_lost_card"),
          BREAKS_AT: said(BREAKS_AT, "deny", yesno="no")}


class ScriptedNlu:
    """Understands the script's turns; `on_break` runs as the turn that breaks the database is heard."""

    def __init__(self, on_break) -> None:
        self.on_break = on_break

    def understand(self, text, alternatives=()):
        if text == BREAKS_AT:
            self.on_break()
        return SCRIPT[text]


def _call(store, on_break) -> Session:
    engine = CallEngine(load_flow(BANK), store, caller_id=ALICE_PHONE, now=OPEN)
    session = Session(engine, Stack(None, ScriptedNlu(on_break), None))
    return replay_text(session, TURNS)


def _assert_spooled_call(session, spool: Path, caplog) -> dict:
    record = session.engine.record.to_dict()
    assert (record["outcome"], record["csat"], record["authenticated"]) == ("self_service", 5, True)
    assert session._strand.errors == []  # no turn failed: the caller heard every answer
    text = spool.read_text()
    assert "2468" not in without_random_hex(text) and "12345678" not in text  # masked as in the store
    assert oct(spool.stat().st_mode & 0o777) == "0o600"
    assert all(json.loads(line)["op"] for line in text.splitlines())  # one JSON object per line
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
                and "failed writing call" in r.getMessage()]
    assert len(warnings) == 1 and record["call_id"] in warnings[0] and str(spool) in warnings[0]
    return record


def test_a_locked_sqlite_file_mid_call_spools_the_record_and_the_next_worker_writes_it(
        tmp_path, monkeypatch, caplog):
    import voicebot.store.schema as schema

    monkeypatch.setattr(schema, "BUSY_TIMEOUT_MS", 300)  # a lock outlasting the busy timeout, soon
    db = tmp_path / "calls.db"
    store = open_store(str(db), demo=True)
    locker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)

    def lock() -> None:  # another process takes the write lock and keeps it
        locker.execute("BEGIN EXCLUSIVE")

    session = _call(store, lock)
    spool = tmp_path / "calls.db.spool.jsonl"
    record = _assert_spooled_call(session, spool, caplog)
    assert "database is locked" in caplog.text
    outcome = locker.execute("SELECT outcome FROM calls WHERE call_id = ?", (record["call_id"],)).fetchone()
    assert outcome == (None,)  # the database never heard the end
    spooled = spool.read_text()
    with pytest.raises(OperationalError):  # still locked: the spool stays as it was
        store.flush_spool()
    assert spool.read_text() == spooled

    locker.execute("ROLLBACK")
    later = open_store(str(db))
    later.start_worker(heartbeat=False)  # writes the spool in, then closes unfinished calls of dead workers
    stored = later.call(record["call_id"])
    assert (stored["outcome"], stored["csat"], len(stored["turns"])) == ("self_service", 5, len(record["turns"]))
    assert spool.read_text() == ""
    assert later.flush_spool() == 0 and store.flush_spool() == 0  # nothing twice
    assert [c["call_id"] for c in later.calls()] == [record["call_id"]]
    later.stop_worker()


def test_postgresql_gone_mid_call_spools_the_record_and_flush_spool_writes_it_once(
        pg_cluster, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)  # a server database's spool is var/records.spool.jsonl
    url = pg_cluster.replace("postgresql+psycopg://postgres@", "postgresql+psycopg://postgres:s3cretpw@")
    store = open_store(url, demo=True)
    try:
        session = _call(store, lambda: stop_cluster(pg_cluster))
    finally:
        start_cluster(pg_cluster)
    spool = tmp_path / "var" / "records.spool.jsonl"
    record = _assert_spooled_call(session, spool, caplog)
    assert "s3cretpw" not in caplog.text and "s3cretpw" not in spool.read_text()

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for written in (1, 0):  # a second flush finds nothing to do
        done = subprocess.run([sys.executable, "-m", "voicebot", "db", "flush-spool", "--db", url],
                              capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{written} spooled call record(s)") and "s3cretpw" not in done.stdout
    stored = open_store(url).call(record["call_id"])
    assert (stored["outcome"], stored["csat"], stored["turns"]) == ("self_service", 5, record["turns"])
    assert len([c for c in open_store(url).calls() if c["call_id"] == record["call_id"]]) == 1


@pytest.mark.slow
def test_replay_says_one_line_when_the_database_fails_mid_call_and_the_record_is_kept(tmp_path):
    """The whole command: a database whose turns table starts failing at the third turn (an error
    raised inside SQLite itself); the call goes on, one warning line, no traceback, exit 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def voicebot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "voicebot", *args, "--db", str(db)], capture_output=True,
                              text=True, cwd=tmp_path, env=env, timeout=600)

    db = tmp_path / "v.db"
    assert voicebot("db", "init", "--demo").returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TRIGGER broken BEFORE INSERT ON turns WHEN NEW.seq >= 2 BEGIN SELECT disk_gone(); END")
    done = voicebot("replay", "--text", "I lost my debit card", "1 2 3 4 5 6 7 8", "2468", BREAKS_AT, "five",
                    "--caller-id", ALICE_PHONE, "--tts", "none", "--json", "-")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "self_service"
    assert "Traceback" not in done.stderr  # stderr: the conversation (stdout is the JSON), and
    [line] = [line for line in done.stderr.splitlines() if "WARNING" in line]  # one warning line
    assert "no such function: disk_gone" in line and "v.db.spool.jsonl" in line
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER broken")
    assert voicebot("db", "flush-spool").stdout.startswith("1 spooled call record(s)")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT outcome FROM calls").fetchall() == [("self_service",)]


def test_a_spooled_write_the_database_refuses_stays_while_the_others_go_in(tmp_path, caplog):
    store = open_store(str(tmp_path / "v.db"))
    header = {"call_id": "c1", "caller_id": None, "started_at": "2026-11-23T15:00:00+00:00"}
    finished = {**header, "outcome": "completed", "ended_at": "2026-11-23T15:01:00+00:00", "turns": []}
    spool = store.spool
    lines = [{"op": "start_call", "args": [header]}, {"op": "finish_call", "args": [{"outcome": "x"}]},
             {"op": "finish_call", "args": [finished]}]
    other = json.dumps({"op": "start_call", "args": [header], "db": "postgresql://elsewhere/db"})
    spool.path.write_text("\n".join([*(json.dumps({**e, "db": spool.database}) for e in lines), other,
                                      '{"op": "finish_ca']) + "\n")
    assert store.flush_spool() == 1
    assert store.call("c1")["outcome"] == "completed"
    left = spool.path.read_text().splitlines()
    assert len(left) == 3 and left[1] == other  # the refused write, another database's, the cut line
    assert "v.db.spool.jsonl:2: database" in caplog.text and "v.db.spool.jsonl:5: not a spooled write" in caplog.text


def test_a_running_worker_writes_the_spool_in_at_its_heartbeat_once_the_database_is_back(
        pg_cluster, tmp_path, monkeypatch, caplog):
    import voicebot.store.workers as workers

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(workers, "HEARTBEAT_SECONDS", 0.2)
    store = open_store(pg_cluster)
    store.start_worker()
    header = {"call_id": "beat-1", "caller_id": None, "started_at": "2026-11-23T15:00:00+00:00"}
    stop_cluster(pg_cluster)
    try:
        store.start_call(header)  # spooled: the server is gone
        store.finish_call({**header, "outcome": "completed", "ended_at": "2026-11-23T15:01:00+00:00", "turns": []})
    finally:
        start_cluster(pg_cluster)
    assert "failed writing call beat-1" in caplog.text  # spooled (a heartbeat may have written it in already)
    deadline = time.monotonic() + 60  # the next heartbeats find the server back
    while store.spool.pending and time.monotonic() < deadline:
        time.sleep(0.1)
    store.stop_worker()
    assert not store.spool.pending and store.call("beat-1")["outcome"] == "completed"


def test_a_spool_that_cannot_be_written_is_one_error_line(tmp_path, caplog):
    store = open_store(str(tmp_path / "v.db"))
    store.spool.path = tmp_path / "not-a-folder" / "x.spool.jsonl"
    (tmp_path / "not-a-folder").write_text("a file in the way")
    with sqlite3.connect(tmp_path / "v.db") as conn:  # the database fails inside SQLite itself
        conn.execute("CREATE TRIGGER broken BEFORE INSERT ON calls BEGIN SELECT disk_gone(); END")
    store.start_call({"call_id": "c", "caller_id": None, "started_at": "2026-11-23T15:00:00+00:00"})
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "call c" in line and "cannot be written" in line and "is lost" in line


def test_a_caller_leaving_a_queue_while_the_database_is_locked_leaves_it_when_the_spool_goes_in(
        tmp_path, monkeypatch):
    import voicebot.store.schema as schema

    monkeypatch.setattr(schema, "BUSY_TIMEOUT_MS", 300)
    db = tmp_path / "q.db"
    store = open_store(str(db))
    store.enqueue({"call_id": "q1", "queue": "general", "priority": "normal", "reason": "routing",
                   "enqueued_at": "2026-11-23T15:00:00+00:00"})
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    assert store.leave_queue("q1", status="abandoned") is None  # spooled, with the time it happened
    locker.execute("ROLLBACK")
    assert [e["call_id"] for e in store.waiting(["general"])] == ["q1"]
    assert store.flush_spool() == 1 and store.waiting(["general"]) == []
    assert store.spool.path.read_text() == ""


def test_a_turn_the_database_refuses_for_another_reason_than_a_repeat_is_spooled_not_dropped(tmp_path):
    """A turn written twice is kept once, quietly; a turn of a call the database does not hold
    (the foreign key) is no repeat: it is kept in the spool, not dropped without a word."""
    store = open_store(str(tmp_path / "v.db"))
    store.start_call({"call_id": "c1", "caller_id": None, "started_at": "2026-11-23T15:00:00+00:00"})
    store.add_turn("c1", 1, {"caller": "my balance"})
    store.add_turn("c1", 1, {"caller": "my balance"})  # a retried commit
    assert store.turns("c1") == [{"caller": "my balance"}]
    assert not store.spool.path.exists()
    store.add_turn("c2", 1, {"caller": "hello"})  # no call c2
    spooled = [json.loads(line) for line in store.spool.path.read_text().splitlines()]
    assert [(e["op"], e["args"][0]) for e in spooled] == [("add_turn", "c2")]


# A worker holding a caller in a queue while the SQLite file is locked: the call's writes (maybe its
# header, a turn, the queue entry, the flow's finished record: the caller waits) go to the spool;
# the lock goes and the worker is killed before any flush (argv: database, "header" when the
# header reached the database before the lock).
DIES_WAITING = """
import os, signal, sqlite3, sys
import voicebot.store.schema as schema
schema.BUSY_TIMEOUT_MS = 200
from voicebot.store import open_store
db, header_first = sys.argv[1], sys.argv[2] == "header"
store = open_store(db)
store.start_worker(heartbeat=False)
header = {"call_id": "lost-1", "caller_id": "+15550001", "started_at": "2026-11-23T15:00:00+00:00"}
locker = sqlite3.connect(db, isolation_level=None)
if header_first:
    store.start_call(header)
locker.execute("BEGIN EXCLUSIVE")
if not header_first:
    store.start_call(header)
store.add_turn("lost-1", 0, {"state": "menu", "caller": {"text": "an agent please"}})
store.enqueue({"call_id": "lost-1", "queue": "general", "priority": "normal", "reason": "agent_requested",
               "enqueued_at": "2026-11-23T15:00:30+00:00", "caller_id": "+15550001"})
store.finish_call({**header, "outcome": "transferred", "disposition": "queued", "queue": "general",
                   "ended_at": "2026-11-23T15:00:31+00:00", "turns": []})
locker.execute("ROLLBACK")
os.kill(os.getpid(), signal.SIGKILL)  # dies with the caller waiting, its spool not written in
"""


def _worker_dies_with_a_spooled_caller_waiting(db: Path, header: str) -> Path:
    died = subprocess.run([sys.executable, "-c", DIES_WAITING, str(db), header], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert died.returncode == -9, died.stderr
    spool = db.with_name(db.name + ".spool.jsonl")
    assert [json.loads(line)["op"] for line in spool.read_text().splitlines()][-2:] == ["enqueue", "finish_call"]
    return spool


def _assert_lost_wait_recovered(store, spool: Path) -> None:
    """Nothing lost (the turn, the entry), nothing left waiting for an agent: the caller's line went
    with the worker, so the entry is `dropped` (their place kept for a call back) and the call
    abandoned, `worker_lost`, as for a caller the database held when their worker died."""
    assert spool.read_text() == ""
    assert "lost-1" not in [e["call_id"] for e in store.waiting()]
    [entry] = [e for e in store.queue_history(OPEN - timedelta(days=1)) if e["call_id"] == "lost-1"]
    assert entry["status"] == "dropped" and entry["left_at"] is not None
    call = store.call("lost-1")
    assert (call["outcome"], call["disposition"]) == ("abandoned", "worker_lost")
    assert store.turns("lost-1") == [{"state": "menu", "caller": {"text": "an agent please"}}]


@pytest.mark.parametrize("header", ["header", "spooled"])
@pytest.mark.parametrize("recovered_by", ["the start", "a report before"])
def test_a_caller_a_killed_worker_spooled_into_a_queue_is_not_left_waiting_by_the_next_start(
        tmp_path, header, recovered_by):
    """The next worker's start writes the spool in and recovers the dead worker: its caller's entry
    is dropped and the call abandoned. They had stayed `waiting` for ever (an agent would take a
    caller long gone) when the recovery came first — at the start, or in `voicebot report`, which
    recovers dead workers and writes no spool in: the entry then belonged to a worker no longer
    registered, whose recovery was over."""
    db = tmp_path / "q.db"
    open_store(str(db)).engine.dispose()
    spool = _worker_dies_with_a_spooled_caller_waiting(db, header)
    if recovered_by == "a report before":
        open_store(str(db)).recover_dead_workers()  # what `voicebot report` does first
    later = open_store(str(db))
    later.start_worker(heartbeat=False)
    try:
        _assert_lost_wait_recovered(later, spool)
    finally:
        later.stop_worker()


def test_a_running_worker_recovers_a_killed_workers_spooled_caller_and_keeps_its_own(tmp_path, monkeypatch):
    """The same at a running worker's heartbeat (it recovers the dead worker, then writes the spool
    in); a caller the running worker itself holds, spooled while the file was locked, still waits."""
    import voicebot.store.schema as schema
    import voicebot.store.workers as workers

    monkeypatch.setattr(schema, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(workers, "HEARTBEAT_SECONDS", 0.2)
    db = tmp_path / "q.db"
    running = open_store(str(db))
    running.start_worker()
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    assert running.enqueue({"call_id": "kept-1", "queue": "general", "enqueued_at": "2026-11-23T15:00:00+00:00",
                            "caller_id": "+15550002"}) is None  # spooled
    locker.execute("ROLLBACK")
    spool = _worker_dies_with_a_spooled_caller_waiting(db, "header")
    try:
        deadline = time.monotonic() + 20
        while (spool.read_text() or len(running.waiting()) != 1) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # a few more beats: nothing changes
        assert [(e["call_id"], e["worker_id"]) for e in running.waiting()] == [("kept-1", running.worker_id)]
        _assert_lost_wait_recovered(running, spool)
    finally:
        running.stop_worker()
