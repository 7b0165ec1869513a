"""A queued caller's place outlives the worker holding their line. Entries belong to that worker;
when it is killed (kill -9) a live worker's heartbeat sweep drops them (keeping their enqueue
time) and ends those calls as abandoned; the same caller calling again within the window gets the
place back, once; a callback booked before the crash stays. On SQLite and a real PostgreSQL, and
end to end over SIP: a `voicebot serve` worker holding a baresip caller in the queue is killed,
the caller calls the surviving worker again and is told their old place."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pg_support import backend_url, private_cluster
from voicebot.store import open_store

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
WINDOW_S = 600

pg_cluster = pytest.fixture(scope="module")(private_cluster)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    return backend_url(request, tmp_path, "q")


DOOMED = """
import sys, time
from datetime import datetime, timedelta, timezone
from voicebot.store import open_store
s, now = open_store(sys.argv[1]), datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
s.start_worker()
for call_id, caller, at in (("early", "+15550001", 0), ("late", "+15550003", 2)):
    started = (now + timedelta(seconds=at)).isoformat()
    s.start_call({"call_id": call_id, "caller_id": caller, "started_at": started})
    s.finish_call({"call_id": call_id, "caller_id": caller, "started_at": started, "ended_at": started,
                   "outcome": "transferred", "queue": "general", "disposition": "queued"})
    s.enqueue({"call_id": call_id, "queue": "general", "enqueued_at": now + timedelta(seconds=at), "caller_id": caller})
s.add_task({"kind": "callback", "caller_id": "+15550004", "call_id": "booked", "queue": "general",
            "created_at": now.isoformat()})
print("ready", flush=True)
time.sleep(600)
"""


def _again(store, call_id: str, caller: str, at: datetime, queue: str = "general") -> int | None:
    store.enqueue({"call_id": call_id, "queue": queue, "enqueued_at": at, "caller_id": caller,
                   "rejoin_seconds": WINDOW_S})
    return store.kept_place(call_id)


def test_a_killed_worker_s_queued_callers_are_dropped_and_get_their_place_back(url, monkeypatch):
    from voicebot.store import workers

    monkeypatch.setattr(workers, "HEARTBEAT_SECONDS", 0.2)  # the live worker sweeps every 0.2 s
    open_store(url)  # schema first: the two processes below would race to create it
    child = subprocess.Popen([sys.executable, "-c", DOOMED, url], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    live = open_store(url)
    try:
        assert child.stdout.readline().strip() == "ready"
        live.start_worker()
        live.enqueue({"call_id": "middle", "queue": "general", "enqueued_at": NOW + timedelta(seconds=1),
                      "caller_id": "+15550002"})
        assert [live.position(c) for c in ("early", "middle", "late")] == [1, 2, 3]
        time.sleep(1.0)
        assert live.position("early") == 1  # a live worker's callers are never dropped
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        deadline = time.monotonic() + 20
        while live.position("early") is not None and time.monotonic() < deadline:
            time.sleep(0.1)  # no restart: the live worker's heartbeat finds the dead one
        entries = {e["call_id"]: e for e in live.queue_history(NOW - timedelta(hours=1))}
        assert {c: e["status"] for c, e in entries.items()} == {"early": "dropped", "late": "dropped",
                                                                "middle": "waiting"}
        assert live.position("middle") == 1
        early = live.call("early")
        assert (early["outcome"], early["disposition"]) == ("abandoned", "worker_lost")  # no record lost
        assert [t["call_id"] for t in live.tasks("callback", open_only=True)] == ["booked"]  # survives

        back = datetime.now(timezone.utc)
        assert _again(live, "early-again", "+15550001", back) == 1  # ahead of "middle" again
        assert live.position("middle") == 2
        kept = next(e for e in live.waiting() if e["call_id"] == "early-again")
        assert kept["enqueued_at"] == NOW and kept["kept_from"] == entries["early"]["id"]
        assert _again(live, "early-thrice", "+15550001", back) is None  # a place is given back once
        assert _again(live, "late-loans", "+15550003", back, queue="loans") is None  # only in its queue
        assert _again(live, "late-tomorrow", "+15550003", back + timedelta(seconds=WINDOW_S + 60)) is None
        assert _again(live, "late-again", "+15550003", back) == 3  # early-again, middle, late-again
        assert live.position("early-thrice") == 4 and live.position("late-tomorrow") == 5
    finally:
        child.kill()
        live.stop_worker()


def test_a_worker_elsewhere_whose_heartbeat_stopped_is_recovered_and_a_beating_one_is_not(url):
    from voicebot.store.models import WorkerRow

    store = open_store(url)
    now = datetime.now(timezone.utc)
    with store._session() as s:
        s.add(WorkerRow(worker_id="far-stale", host="elsewhere", pid=1, started_at=now - timedelta(hours=1),
                        heartbeat_at=now - timedelta(seconds=workers_stale() + 5)))
        s.add(WorkerRow(worker_id="far-live", host="elsewhere", pid=1, started_at=now, heartbeat_at=now))
        s.commit()
    for worker, call_id in (("far-stale", "held-by-stale"), ("far-live", "held-by-live")):
        store.worker_id = worker
        store.enqueue({"call_id": call_id, "queue": "general", "enqueued_at": NOW, "caller_id": "+15550009"})
    store.worker_id = None
    store.recover_dead_workers(now)
    assert [e["call_id"] for e in store.waiting()] == ["held-by-live"]


def workers_stale() -> float:
    from voicebot.store.workers import STALE_SECONDS

    return STALE_SECONDS


FLOW = """
name: sip_queue
start: menu
agents:
  - {name: maria, skills: [general], sip: "sip:maria@127.0.0.1:9"}
queues:
  general: {label: customer service, callback_over_seconds: null}
states:
  menu:
    ask: "Press zero to speak with someone."
    expect: choice
    choices: [agent]
    dtmf: {"0": agent}
    on: {agent: to_agent}
  to_agent:
    say: "Connecting you."
    transfer: {queue: general}
"""


def _until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_over_sip_a_caller_dropped_with_a_killed_worker_calls_again_and_keeps_the_place(tmp_path, monkeypatch):
    """Worker A (`voicebot serve`, a process) holds caller 1 in the queue and books caller 3 a
    callback; worker B (this process) holds caller 2, who queued later. A is killed; B's heartbeat
    drops caller 1's entry and ends that call as abandoned. Caller 1 calls B again: they are told
    they keep their place, number 1, ahead of caller 2; the callback is still there. B then stops
    (SIGTERM's path): the callers it hangs up are dropped too, not abandoned."""
    from sip_peers import HAVE_BARESIP, Baresip, Worker, free_port

    if not HAVE_BARESIP:
        pytest.skip("baresip not installed")
    from voicebot.audio import Audio, write_wav
    from voicebot.flow import load_flow
    from voicebot.pipeline import Stack
    from voicebot.store import AgentState, workers
    from voicebot.transports.sip import ServeConfig, SipServer

    monkeypatch.setattr(workers, "HEARTBEAT_SECONDS", 0.3)
    flow_path, db = tmp_path / "flow.yml", str(tmp_path / "calls.db")
    flow_path.write_text(FLOW)
    store = open_store(db, demo=True)
    now = datetime.now(timezone.utc)
    store.set_agent_state("maria", AgentState("busy", now, now + timedelta(hours=1)))  # nobody free
    port_a = free_port()
    log_a = (tmp_path / "worker_a.log").open("wb")
    worker_a = subprocess.Popen([sys.executable, "-m", "voicebot", "serve", "--sip", f"127.0.0.1:{port_a}", "--db", db,
                                 "--flow", str(flow_path), "--queue-announce", "30", "--rtp-ports", "41000-41998"],
                                cwd=ROOT, stdout=log_a, stderr=subprocess.STDOUT)
    stack = Stack.load(asr=None, tts="piper")
    store_b = open_store(db)
    store_b.start_worker()
    worker_b = Worker(SipServer(ServeConfig("127.0.0.1", 0, announce_s=30), stack, load_flow(flow_path), store_b))
    silence = write_wav(tmp_path / "silence.wav", Audio.silence(60, 8000))
    phones = []

    def queue_up(home: Path, number: str, port: int) -> dict:
        phone = Baresip(home, number, silence, dial=f"sip:bot@127.0.0.1:{port}", seconds=90)
        phones.append(phone)
        phone.press_when_heard("0", 0.3, timeout=30)
        return _until(lambda: next((e for e in store.waiting() if store.call(e["call_id"])["caller_id"] == number),
                                   None), 30, f"{number} in the queue"), phone

    try:
        _until(lambda: b"voicebot serve: ready" in (tmp_path / "worker_a.log").read_bytes(), 300, "worker A")
        first, _ = queue_up(tmp_path / "a", "+15557770001", port_a)
        _, booker = queue_up(tmp_path / "a", "+15557770003", port_a)

        def book():  # key 1 while waiting books a callback (keys over the last prompts are ignored)
            booker.keys("1")
            return store.tasks("callback", open_only=True)
        _until(book, 30, "the callback booked on worker A")
        second, _ = queue_up(tmp_path / "b", "+15557770002", worker_b.port)
        assert [store.position(e["call_id"]) for e in (first, second)] == [1, 2]

        worker_a.send_signal(signal.SIGKILL)
        worker_a.wait(30)
        _until(lambda: store.position(first["call_id"]) is None, 20, "worker B to drop worker A's caller")
        lost = store.call(first["call_id"])
        assert (lost["outcome"], lost["disposition"]) == ("abandoned", "worker_lost")
        assert store.position(second["call_id"]) == 1

        again, _ = queue_up(tmp_path / "again", "+15557770001", worker_b.port)  # the same number calls back
        assert store.position(again["call_id"]) == 1 and store.position(second["call_id"]) == 2
        assert again["enqueued_at"] == first["enqueued_at"] and again["kept_from"] == first["id"]
        def told_so_far():  # still waiting: the record so far, turn by turn (each turn written
            said = " ".join(t["bot"]["text"] for t in store.call(again["call_id"])["turns"])  # once its
            return said if "you keep your place" in said else None  # answer is on the line)
        said = _until(told_so_far, 10, "the turn that put caller 1 back in line, in its record")
        assert "you keep your place" in said and "number 1 in line" in said, said
        [callback] = store.tasks("callback", open_only=True)
        assert callback["caller_id"] == "+15557770003"  # booked before the crash, still there
    finally:
        worker_a.kill()
        worker_b.close()
        store_b.stop_worker()
        for phone in phones:
            phone.stop()
    statuses = {e["call_id"]: e["status"] for e in store.queue_history(now - timedelta(hours=1))}
    assert statuses[again["call_id"]] == statuses[second["call_id"]] == "dropped"  # hung up by B's stop
