"""Keys over a prompt, from a real softphone (headless baresip sending RFC 4733 telephone-events):
the first key stops the prompt at once, like speech does, while the digits go on being gathered
into the answer; a prompt that forbids barge-in plays on. Measured on what the caller heard (the
prompt located in their recording by correlation, the key's moment as a sample of it), never on
wall time. Keys only: no recogniser is loaded."""

from __future__ import annotations

import time

import numpy as np
import pytest

from sip_peers import HAVE_BARESIP, Worker, _pcm, prompt_heard_after
from voicebot.audio import Audio, write_wav

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not HAVE_BARESIP,
                                                   reason="baresip not installed (scripts/setup.sh installs it)")]

BANK = "flows/bank.yml"
RATE = 8000
TERMS = """
name: sip_terms
start: terms
states:
  terms:
    ask: "Before we begin, please listen to these terms in full. Calls are recorded for quality and training. Now key in your three digit code."
    expect: digits
    length: 3
    barge_in: false
    next: thanks
  thanks:
    say: "Thank you. Goodbye."
    hangup: true
"""


@pytest.fixture(scope="module")
def stack():
    from voicebot.pipeline import Stack

    return Stack.load(asr=None, tts="piper")


def _worker(stack, flow_path, tmp_path):
    from voicebot.flow import load_flow
    from voicebot.pipeline.prompts import fixed_prompts
    from voicebot.store import open_store
    from voicebot.transports.sip import ServeConfig, SipServer

    flow = load_flow(flow_path)
    stack.prompts.warm(fixed_prompts(flow))
    store = open_store(str(tmp_path / "calls.db"), demo=True)
    return Worker(SipServer(ServeConfig("127.0.0.1", 0), stack, flow, store)), store


def _prompt(stack, text: str) -> np.ndarray:
    """The prompt as the line sends it: the Session's 16 kHz audio brought to 8 kHz."""
    from voicebot.transports.sip.adapter import LineRate

    samples = stack.prompts.render(text).canonical(16000).samples
    return LineRate(16000)(samples[:len(samples) // 2 * 2]).astype(np.float64)


def _call(worker, store, caller) -> dict:
    caller.command("hangup")
    caller.stop()
    summary = worker.wait_ended(1)[-1]
    return next(c for c in store.calls() if c["call_id"] == summary["record"])


def test_a_key_stops_the_prompt_at_once_and_the_keyed_numbers_authenticate(stack, tmp_path):
    from voicebot.flow import load_flow

    id_prompt = load_flow(BANK).spec.authentication.id_prompt
    worker, store = _worker(stack, BANK, tmp_path)
    try:
        caller = worker.dial(tmp_path, "keyer", write_wav(tmp_path / "silence.wav", Audio.silence(40, RATE)))
        caller.press_when_heard("3", 0.5)  # over the greeting: the menu's key for a lost card
        key_at = caller.press_when_heard("1", 0.6)  # 0.6 s into "Please say or key in your … number"
        time.sleep(0.4)
        caller.keys("2345678")
        time.sleep(1.0)
        caller.keys("2468")
        time.sleep(2.0)
        record = _call(worker, store, caller)
    finally:
        worker.close()
    assert record["authenticated"] is True, record["turns"]
    after, found = prompt_heard_after(_pcm(caller.heard().read_bytes()), key_at, _prompt(stack, id_prompt))
    print(f"prompt heard after the first key: {after / RATE * 1000:.0f} ms (prompt found: {found:.2f})")
    assert found > 0.8, found  # the ID prompt was playing when the key went down
    # what the caller still heard of it after pressing: the key's way to the bot, one 20 ms tick,
    # the line's buffers (the paced sender's are dropped with the prompt) and baresip's jitter buffer
    assert after <= 0.2 * RATE, f"{after / RATE * 1000:.0f} ms of the prompt after the first key"
    asked = next(t for t in record["turns"] if t["bot"]["text"] == id_prompt)
    assert asked["bot"]["interrupted"] is True


def test_a_key_does_not_stop_a_prompt_that_forbids_barge_in_and_still_counts(stack, tmp_path):
    flow_path = tmp_path / "terms.yml"
    flow_path.write_text(TERMS)
    worker, store = _worker(stack, flow_path, tmp_path)
    terms = TERMS.split('ask: "')[1].split('"')[0]
    try:
        caller = worker.dial(tmp_path, "listener", write_wav(tmp_path / "silence.wav", Audio.silence(40, RATE)))
        key_at = caller.press_when_heard("4", 0.6)
        time.sleep(0.4)
        caller.keys("56")
        deadline = time.monotonic() + 30
        while not worker.server.ended and time.monotonic() < deadline:  # the flow hangs up after "Goodbye"
            time.sleep(0.1)
        record = _call(worker, store, caller)
    finally:
        worker.close()
    after, found = prompt_heard_after(_pcm(caller.heard().read_bytes()), key_at, _prompt(stack, terms))
    assert found > 0.8, found
    assert after >= 2.0 * RATE, f"only {after / RATE * 1000:.0f} ms of the prompt after the key"
    asked, answered = record["turns"][:2]
    assert asked["bot"]["interrupted"] is False and asked["bot"]["text"] == terms
    assert answered["caller"]["dtmf"] == "456" and answered["bot"]["text"] == "Thank you. Goodbye.", answered
