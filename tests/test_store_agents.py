"""Live agent status shared by calls on one database: an agent who takes a call is busy for the
queue's handle time, the next call goes to someone else or waits, and `voicebot agents` shows and
sets the status."""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import timedelta

import pytest

from flow_support import BANK, OPEN, fresh_store, start, transfer_of
from voicebot.flow import load_flow
from voicebot.flow.scripted import said
from voicebot.store import AgentState


@pytest.fixture(scope="module")
def flow():
    return load_flow(BANK)


def ask_for_a_person(flow, store, now=OPEN):
    engine = start(flow, store, now=now)
    return transfer_of(engine.handle(said("can I talk to a person", "speak_to_agent")))


def test_busy_agents_are_skipped_until_their_call_is_over(flow, tmp_path):
    store = fresh_store(tmp_path)
    # general is most-idle first: dev (300 s idle), maria (120 s), li (60 s); sam and noor are busy
    picks = [ask_for_a_person(flow, store, now=OPEN + timedelta(seconds=10 * i)) for i in range(4)]
    assert [t.agent for t in picks[:3]] == ["dev", "maria", "li"]
    assert picks[3].agent is None and picks[3].target_kind == "queue" and picks[3].position == 1
    assert store.agent_states()["dev"].status == "busy"
    # general's handle time is 300 s: dev is free first (at 300 s), so idle longest at 330 s
    assert ask_for_a_person(flow, store, now=OPEN + timedelta(seconds=305)).agent == "dev"
    assert ask_for_a_person(flow, store, now=OPEN + timedelta(seconds=330)).agent == "maria"


def test_an_agent_set_offline_gets_no_calls_and_a_busy_one_can_be_freed(flow, tmp_path):
    store = fresh_store(tmp_path)
    store.set_agent_state("dev", AgentState("offline", OPEN.isoformat()))
    store.set_agent_state("sam", AgentState("available", (OPEN - timedelta(hours=1)).isoformat()))
    assert ask_for_a_person(flow, store).agent == "sam"  # idle for an hour, and dev is off


def test_agents_cli_lists_and_sets(tmp_path, monkeypatch, capsys):
    from voicebot.cli import main

    db = f"sqlite:///{tmp_path / 'a.db'}"

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["voicebot", "agents", *args, "--db", db])
        with pytest.raises(SystemExit) as exc:
            main()
        return exc.value.code, capsys.readouterr()

    assert run("set", "maria", "busy", "--minutes", "5")[0] in (0, None)
    code, out = run("list", "--json")
    statuses = {a["name"]: a["status"] for a in json.loads(out.out)}
    assert statuses["maria"] == "busy" and statuses["dev"] == "available" and statuses["sam"] == "busy"
    code, out = run("set", "nobody", "busy")
    assert code == 2 and "no agent 'nobody'" in out.err
    code, out = run("set", "maria", "lunch")
    assert code == 2 and "available, busy, offline" in out.err


def _lock(db, store) -> sqlite3.Connection:  # another connection takes the database and keeps it
    locker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    return locker


def _garble(db, store) -> None:  # the file is overwritten by something that is no database
    store.engine.dispose()  # (its open connections would still read their pages from the WAL)
    db.write_bytes(b"not a database\n" * 512)


def _drop_agents(db, store) -> None:  # a database whose agent table went (restored from an old copy, say)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE agent_states")


@pytest.mark.parametrize("breaks, says", [(_lock, "database is locked"), (_garble, "not a database"),
                                           (_drop_agents, "no such table")])
def test_agents_list_on_a_database_that_fails_once_open_is_one_line(tmp_path, monkeypatch, capsys, breaks, says):
    """The database opens (schema checked) and then fails as the agents are read: one line naming
    it and what is wrong, exit 2, as every other command says it; it was a traceback."""
    import voicebot.store as store_package
    import voicebot.store.schema as schema
    from voicebot.cli import main

    monkeypatch.setattr(schema, "BUSY_TIMEOUT_MS", 200)  # a lock outlasting the busy timeout, soon
    db = tmp_path / "a.db"
    opens, held = store_package.open_store, []

    def open_then_break(url=None, demo=False):
        store = opens(url, demo)
        held.append(breaks(db, store))  # (the lock is held while the command runs)
        return store

    monkeypatch.setattr(store_package, "open_store", open_then_break)
    monkeypatch.setattr(sys, "argv", ["voicebot", "agents", "list", "--db", str(db)])
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err, err
    [line] = [line for line in err.splitlines() if line.strip()]
    assert line.startswith(f"error: database sqlite:///{db}: cannot use it: ") and says in line, line


def test_two_workers_continue_one_round_robin_and_one_split(tmp_path):
    """Two processes' Routers (two loads of one flow) share the store's counters: together they
    walk the same 70/30 split cycle and the same round-robin order one process would."""
    from test_flow_routing import MONDAY_NOON, ROUTING
    from voicebot.flow import flow_from_text
    from voicebot.flow.routing import Caller

    store = fresh_store(tmp_path)
    workers = [flow_from_text(ROUTING).router for _ in range(2)]
    alone = flow_from_text(ROUTING).router
    together = [workers[i % 2].route("split", Caller(), MONDAY_NOON, counter=store.next_counter).queue
                for i in range(10)]
    assert together == [alone.route("split", Caller(), MONDAY_NOON).queue for _ in range(10)]
    assert together.count("fixed") == 7
    robin = [workers[i % 2].route("robin", Caller(), MONDAY_NOON, counter=store.next_counter).agent for i in range(4)]
    assert robin == ["a1", "a2", "a3", "a1"]  # not a1, a1, a2, a2 as two private pointers would give
