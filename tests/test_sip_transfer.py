"""Transfer to a human over SIP: the flow routes the caller to a queue, the router picks a free
agent, and the worker hands the caller (a real baresip) to the agent's phone (another baresip,
auto-answering) by REFER. The record keeps which agent took the call."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from sip_peers import HAVE_BARESIP, Baresip, Worker, free_port
from voicebot.audio import Audio, write_wav

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not HAVE_BARESIP, reason="baresip not installed")]

FLOW = """
name: sip_transfer
start: menu
agents:
  - {{name: maria, skills: [general], sip: "{agent}"}}
queues:
  general: {{label: customer service, callback_over_seconds: null}}
states:
  menu:
    ask: "Press zero to speak with someone."
    expect: choice
    choices: [agent]
    dtmf: {{"0": agent}}
    on: {{agent: to_agent}}
  to_agent:
    say: "Connecting you."
    transfer: {{queue: general}}
"""


SIPP_SCENARIO = Path(__file__).resolve().parents[1] / "deploy" / "sipp" / "refuse_refer.xml"


@pytest.fixture(scope="module")
def stack():
    from voicebot.pipeline import Stack

    return Stack.load(asr=None, tts="piper")  # keys only: no recogniser needed


def _worker_for(agent, tmp_path, stack, announce_s: float = 45.0):
    from voicebot.flow import load_flow
    from voicebot.store import open_store
    from voicebot.transports.sip import ServeConfig, SipServer

    flow_path = tmp_path / "flow.yml"
    flow_path.write_text(FLOW.format(agent=agent.uri))
    store = open_store(str(tmp_path / "calls.db"), demo=True)
    config = ServeConfig("127.0.0.1", 0, announce_s=announce_s)
    return Worker(SipServer(config, stack, load_flow(flow_path), store)), store


def _dial_and_press(worker, tmp_path, name, silence, key="0"):
    caller = worker.dial(tmp_path, name, silence, seconds=60)
    time.sleep(1.0)
    caller.keys(key)
    return caller


def test_transfer_reaches_the_agent_phone_by_refer(tmp_path, stack):
    silence = write_wav(tmp_path / "silence.wav", Audio.silence(30, 8000))
    agent = Baresip(tmp_path, "agent", silence, answer=True, seconds=40)
    worker, store = _worker_for(agent, tmp_path, stack)
    try:
        caller = _dial_and_press(worker, tmp_path, "caller", silence)
        summary = worker.wait_ended(1, timeout=40)[-1]
        assert summary["transfer"] == "referred", (summary, caller.text()[-1500:])
        record = next(c for c in store.calls() if c["call_id"] == summary["record"])
        assert record["agent"] == "maria" and record["outcome"] == "transferred"
        deadline = time.monotonic() + 10
        while "Call established" not in agent.text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "sip:caller@" in agent.text() and "Call established" in agent.text(), agent.text()[-1500:]
    finally:
        worker.close()
        for phone in (locals().get("caller"), agent):
            if phone is not None:
                phone.stop()


@pytest.mark.skipif(not shutil.which("sipp"), reason="SIPp (sip-tester) not installed")
def test_refused_refer_is_bridged_and_info_keys_work(tmp_path, stack):
    """SIPp as a phone that keys by SIP INFO and declines REFER: the worker calls the agent and
    relays both legs; the caller's BYE ends the agent's leg too."""
    agent = Baresip(tmp_path, "agent", write_wav(tmp_path / "hello.wav", Audio.silence(30, 8000)),
                    answer=True, seconds=40)
    worker, store = _worker_for(agent, tmp_path, stack)
    try:
        sipp = subprocess.run(["sipp", "-sf", str(SIPP_SCENARIO), f"127.0.0.1:{worker.port}", "-m", "1",
                               "-i", "127.0.0.1", "-p", str(free_port()), "-mp", str(free_port(pair=True)),
                               "-timeout", "40", "-timeout_error", "-nostdin",
                               "-trace_err", "-error_file", str(tmp_path / "sipp.err")],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
        errors = (tmp_path / "sipp.err").read_text() if (tmp_path / "sipp.err").exists() else ""
        assert sipp.returncode == 0, (sipp.stdout[-1500:], errors[-1500:])
        summary = worker.wait_ended(1, timeout=20)[-1]
        assert summary["transfer"] == "bridged", summary
        record = next(c for c in store.calls() if c["call_id"] == summary["record"])
        assert record["agent"] == "maria"
        assert record["caller_id"] == "+15551230002" and record["vip"]  # From → caller ID → Bob, a VIP
        log = agent.text()
        assert "sip:voicebot@" in log and "Call established" in log, log[-1500:]
        deadline = time.monotonic() + 10
        while "terminated" not in agent.text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "terminated" in agent.text(), agent.text()[-1500:]  # the bridge took the agent's leg down
    finally:
        worker.close()
        agent.stop()


def test_queued_caller_hears_place_then_reaches_the_agent_or_books_a_callback(tmp_path, stack):
    """No agent free: the caller waits on the line hearing their place; when the agent's busy
    spell (in the store) runs out the worker claims them and transfers; a second caller presses 1
    and gets a callback task instead; a third hangs up while waiting. Each leaves the store's queue."""
    from datetime import datetime, timedelta, timezone

    from voicebot.store import AgentState

    silence = write_wav(tmp_path / "silence.wav", Audio.silence(60, 8000))
    agent = Baresip(tmp_path, "agent", silence, answer=True, seconds=60)
    worker, store = _worker_for(agent, tmp_path, stack, announce_s=3.0)
    now = datetime.now(timezone.utc)
    store.set_agent_state("maria", AgentState("busy", now.isoformat(), (now + timedelta(seconds=12)).isoformat()))
    try:
        caller = _dial_and_press(worker, tmp_path, "waiter", silence)
        summary = worker.wait_ended(1, timeout=40)[-1]
        assert (summary["queue_wait"], summary["transfer"], summary["agent"]) == ("agent", "referred", "maria"), summary
        assert "sip:waiter@" in agent.text()  # the caller reached the agent's phone
        record = next(c for c in store.calls() if c["call_id"] == summary["record"])
        assert record["agent"] == "maria" and record["disposition"] == "agent"
        assert store.waiting() == []  # taken: out of the store's queue
        caller.stop()

        now = datetime.now(timezone.utc)
        store.set_agent_state("maria", AgentState("busy", now.isoformat(), (now + timedelta(hours=1)).isoformat()))
        caller = _dial_and_press(worker, tmp_path, "impatient", silence)
        deadline = time.monotonic() + 20
        while not any(w.announced for w in worker.server.waits.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        caller.keys("1")
        summary = worker.wait_ended(2, timeout=30)[-1]
        assert summary["queue_wait"] == "callback", summary
        assert any(t["call_id"] == summary["record"] for t in store.tasks("callback"))
        assert store.waiting() == []
        caller.stop()

        caller = _dial_and_press(worker, tmp_path, "quitter", silence)  # hangs up while waiting
        deadline = time.monotonic() + 20
        while not [w for w in worker.server.waits.values() if store.waiting()] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [e["queue"] for e in store.waiting()] == ["general"]
        caller.command("hangup")
        summary = worker.wait_ended(3, timeout=30)[-1]
        assert (summary["queue_wait"], summary["outcome"]) == ("abandoned", "abandoned"), summary
        assert store.waiting() == []  # the hang-up left the store's queue
        caller.stop()
    finally:
        worker.close()
        agent.stop()
