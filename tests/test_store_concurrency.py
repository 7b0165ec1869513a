"""Several processes (workers) and threads (calls) on one database at once, on SQLite (WAL, busy
timeout) and on a real PostgreSQL: an agent is claimed by exactly one caller, each waiting caller
is taken by exactly one agent, no queue entry or call record is lost or written twice, shared
round-robin counters never repeat, and workers starting together migrate the schema once."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from pg_support import fresh_database, private_cluster
from voicebot.store import open_store
from voicebot.store.schema import HEAD, current_revision

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
AGENTS = [f"agent{i}" for i in range(6)]
WORKERS, CALLS_PER_WORKER = 4, 20
_CTX = mp.get_context("fork")  # each child opens its own engine after the fork

pg_cluster = pytest.fixture(scope="module")(private_cluster)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return fresh_database(request.getfixturevalue("pg_cluster"), f"t{os.getpid()}_{request.node.name[:20]}".lower()
                          .replace("[", "_").replace("]", "").replace("-", "_"))


def _open(url):
    return open_store(url)


def _worker_claims(url: str, worker: int, results) -> None:
    """One worker's calls: each tries every agent in turn until it gets one (or none is left)."""
    store = _open(url)
    got = []
    for call in range(CALLS_PER_WORKER):
        call_id = f"w{worker}c{call}"
        store.start_call({"call_id": call_id, "caller_id": None, "started_at": NOW.isoformat()})
        for seq in range(3):
            store.add_turn(call_id, seq, {"caller": {"text": str(seq)}, "state": "s"})
        store.add_turn(call_id, 2, {"caller": {"text": "retried"}, "state": "s"})  # a retried write
        for agent in AGENTS:
            if store.claim_agent(agent, NOW, NOW + timedelta(hours=1), call_id):
                got.append(agent)
                break
        store.enqueue({"call_id": call_id, "queue": "general", "priority": "vip" if call % 10 == 0 else "normal",
                       "enqueued_at": NOW + timedelta(seconds=call)})
        store.enqueue({"call_id": call_id, "queue": "general", "enqueued_at": NOW})  # twice: kept once
        store.next_counter("round_robin:general")
        store.finish_call({"call_id": call_id, "started_at": NOW.isoformat(), "ended_at": NOW.isoformat(),
                           "outcome": "escalated", "queue": "general"})
    results.put((worker, got))


def _agent_takes(url: str, agent: str, results) -> None:
    store = _open(url)
    taken = []
    while (entry := store.take_next(agent, ["general"], NOW + timedelta(minutes=5))) is not None:
        taken.append(entry["call_id"])
    results.put((agent, taken))


def _run_all(target, url, names):
    results = _CTX.Queue()
    procs = [_CTX.Process(target=target, args=(url, name, results)) for name in names]
    for p in procs:
        p.start()
    out = dict(results.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return out


def test_workers_never_share_an_agent_or_a_caller(url):
    store = open_store(url)  # the schema exists before the race (start-up races are tested below)
    claims = _run_all(_worker_claims, url, range(WORKERS))
    claimed = [a for got in claims.values() for a in got]
    assert sorted(claimed) == sorted(AGENTS)  # every agent claimed, and none twice
    calls = store.calls()
    assert len(calls) == WORKERS * CALLS_PER_WORKER and {c["outcome"] for c in calls} == {"escalated"}
    assert all(len(store.turns(c["call_id"])) == 3 for c in calls[:10])
    assert store.turns(calls[0]["call_id"])[2]["caller"]["text"] == "2"  # the retry did not overwrite
    assert store.next_counter("round_robin:general") == WORKERS * CALLS_PER_WORKER  # no lost increment
    waiting = store.waiting(["general"])
    assert len(waiting) == WORKERS * CALLS_PER_WORKER
    assert [e["priority"] for e in waiting[:WORKERS * CALLS_PER_WORKER // 10]] == ["vip"] * (WORKERS * CALLS_PER_WORKER // 10)  # VIPs first

    taken = _run_all(_agent_takes, url, ["ann", "ben", "cat"])
    every = Counter(c for got in taken.values() for c in got)
    assert len(every) == WORKERS * CALLS_PER_WORKER and set(every.values()) == {1}  # each exactly once
    assert store.waiting(["general"]) == []


def test_threads_of_one_worker_share_one_store(url):
    store = open_store(url)

    def claim(i):
        return next(([a] for a in AGENTS if store.claim_agent(a, NOW, None, f"t{i}")), [])

    with ThreadPoolExecutor(8) as pool:
        got = [a for r in pool.map(claim, range(40)) for a in r]
    assert len(got) == len(set(got)) == len(AGENTS)


def _open_and_report(url, name, results):
    store = open_store(url)
    results.put((name, current_revision(store.engine)))


def test_workers_starting_together_migrate_once(url):
    revisions = _run_all(_open_and_report, url, range(4))
    assert set(revisions.values()) == {HEAD}


def test_a_killed_worker_s_calls_are_closed_as_abandoned_and_a_live_one_s_are_not(url):
    live = open_store(url)
    live.start_worker(heartbeat=False)
    live.start_call({"call_id": "live-call", "caller_id": None, "started_at": NOW.isoformat()})
    script = ("import sys, time; from voicebot.store import open_store; s = open_store(sys.argv[1]); "
              "s.start_worker(); s.start_call({'call_id': 'doomed', 'caller_id': None, "
              "'started_at': '2026-11-23T15:00:00+00:00'}); s.add_turn('doomed', 0, {'caller': {'text': ''}, "
              "'state': 'greeting'}); print('ready', flush=True); time.sleep(600)")
    child = subprocess.Popen([sys.executable, "-c", script, url], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        assert open_store(url).recover_dead_workers() == 0  # both workers alive: nothing closed
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    restarted = open_store(url)
    restarted.start_worker(heartbeat=False)  # the next start recovers
    doomed, other = restarted.call("doomed"), restarted.call("live-call")
    assert doomed["outcome"] == "abandoned" and doomed["ended_at"] and len(doomed["turns"]) == 1
    assert other.get("outcome") is None  # a live worker's call is never closed by another
    from voicebot.store.kpis import compute_kpis
    assert compute_kpis(restarted.calls())["outcomes"] == {"abandoned": 1}


def test_positions_come_from_the_store_and_leaving_is_final(url):
    store = open_store(url)
    for i, priority in enumerate(["normal", "normal", "vip", "high"]):
        store.enqueue({"call_id": f"c{i}", "queue": "general", "priority": priority,
                       "enqueued_at": NOW + timedelta(seconds=i)})
    store.enqueue({"call_id": "other", "queue": "loans", "enqueued_at": NOW})
    restarted = open_store(url)  # another worker (or this one after a restart) sees the same line
    assert [restarted.position(f"c{i}") for i in range(4)] == [3, 4, 1, 2] and restarted.position("other") == 1
    assert restarted.leave_queue("c0") and not restarted.leave_queue("c0")
    assert restarted.position("c1") == 3 and restarted.position("c0") is None
    assert restarted.take_next("ann", ["general"], NOW)["call_id"] == "c2"
    assert not restarted.leave_queue("c2")  # taken: the caller is with an agent, not abandoned


def test_a_recovery_cut_short_after_removing_registrations_leaves_no_caller_waiting(url):
    """A recovery removes the dead workers' registrations first and then drops whatever no
    registered worker holds, so one that stops between the two (or a spool written in between by
    another process) leaves nothing the next recovery cannot find: here the registration of the
    worker holding "ghost" is already gone, as that cut-short recovery left it."""
    store = open_store(url)
    store.start_worker(heartbeat=False)
    store.start_call({"call_id": "ghost", "caller_id": None, "started_at": NOW.isoformat()}, worker_id="gone-1")
    store.enqueue({"call_id": "ghost", "queue": "general", "enqueued_at": NOW, "worker_id": "gone-1"})
    store.finish_call({"call_id": "ghost", "started_at": NOW.isoformat(), "ended_at": NOW.isoformat(),
                       "outcome": "escalated", "queue": "general", "disposition": "queued"},
                      worker_id="gone-1")  # the flow had handed the caller over; the wait had not ended
    store.start_call({"call_id": "mine", "caller_id": None, "started_at": NOW.isoformat()})
    store.enqueue({"call_id": "mine", "queue": "general", "enqueued_at": NOW + timedelta(seconds=1)})
    assert store.position("ghost") == 1
    store.recover_dead_workers()  # no registered worker is dead: only what nobody holds goes
    assert store.position("ghost") is None and store.call("ghost")["outcome"] == "abandoned"  # its line is gone
    assert store.position("mine") == 1 and store.call("mine").get("outcome") is None
