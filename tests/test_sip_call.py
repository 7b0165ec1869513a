"""SIP calls from a real softphone (headless baresip) over loopback to a real worker: the bot
hears speech and keys, speaks (its reply is recognised in what the caller recorded), closes
abandoned calls, and shrugs off random bytes on its RTP port. One Stack for the module."""

from __future__ import annotations

import json
import random
import socket
import time

import pytest

from sip_peers import HAVE_BARESIP, Baresip, Worker
from voicebot.audio import Audio, read_wav, write_wav

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not HAVE_BARESIP,
                                                   reason="baresip not installed (scripts/setup.sh installs it)")]

BANK = "flows/bank.yml"


@pytest.fixture(scope="module")
def stack():
    from voicebot.pipeline import Stack
    from voicebot.pipeline.prompts import fixed_prompts
    from voicebot.flow import load_flow

    stack = Stack.load(asr="whisper", tts="piper")
    stack.prompts.warm(fixed_prompts(load_flow(BANK)))
    return stack


@pytest.fixture(scope="module")
def worker(stack, tmp_path_factory):
    from voicebot.flow import load_flow
    from voicebot.store import open_store
    from voicebot.transports.sip import ServeConfig, SipServer

    store = open_store(str(tmp_path_factory.mktemp("db") / "calls.db"), demo=True)  # the demo customers
    server = SipServer(ServeConfig("127.0.0.1", 0), stack, load_flow(BANK), store)
    worker = Worker(server)
    yield worker
    worker.close()


def _record(worker, summary):
    return next(c for c in worker.server.store.calls() if c["call_id"] == summary["record"])


def _caller_wav(path, stack, speech_path, before: list[str], tail_s: float):
    """Silence while the bot says `before`, then the caller's words, then `tail_s` of silence."""
    lead = sum(stack.prompts.render(text).duration for text in before) + 1.5
    speech = read_wav(speech_path).canonical(8000)
    return write_wav(path, Audio.silence(lead, 8000) + speech + Audio.silence(tail_s, 8000))


def _heard_text(stack, path) -> str:
    """What the caller heard, recognised stretch by stretch: baresip's dump holds only the frames
    the bot sent, prompts back to back, and a short-utterance decoder given 10-20 s of them in one
    go drops whole sentences (which ones varies with the audio)."""
    import numpy as np

    audio = read_wav(path).canonical(8000)
    frames = audio.samples[: audio.num_samples // 160 * 160].reshape(-1, 160).astype(np.float64)
    loud = np.sqrt((frames**2).mean(axis=1)) > 30  # about -60 dBFS
    pieces, start, quiet = [], None, 0
    for i, on in enumerate(list(loud) + [False] * 10):
        if on:
            start, quiet = i if start is None else start, 0
        elif start is not None:
            quiet += 1
            if quiet >= 10:  # 200 ms of silence (a pause between sentences) ends a stretch
                pieces.append(Audio(audio.samples[start * 160:(i - quiet + 1) * 160], 8000))
                start = None
    return " ".join(stack.recognizer.transcribe(piece).text for piece in pieces).lower()


def test_spoken_request_is_understood_and_answered(worker, stack, speak, tmp_path, caplog):
    caplog.set_level("INFO", logger="voicebot.transports.sip.call")
    bank = __import__("voicebot.flow", fromlist=["load_flow"]).load_flow(BANK).spec
    wav = _caller_wav(tmp_path / "caller.wav", stack, speak("I lost my card."),
                      [bank.states["greeting"].say, bank.states["main_menu"].ask], tail_s=12.0)
    before = len(worker.server.ended)
    caller = Baresip(tmp_path, "caller", wav, dial=f"sip:bot@127.0.0.1:{worker.port}", seconds=40)
    caller.wait(60)  # baresip hangs up when its microphone file ends: before the ID is given
    summary = worker.wait_ended(before + 1)[-1]
    record = _record(worker, summary)
    assert summary["outcome"] == "abandoned" and record["outcome"] == "abandoned"
    assert "report_lost_card" in record["intents"]
    heard = _heard_text(stack, caller.heard())
    assert "bank" in heard and "help" in heard, heard  # the greeting and menu reached the caller
    assert "customer number" in heard, heard  # ... and the answer to "I lost my card"
    # the turn's stages are logged in order, up to its answer's first loud frame on the wire
    # (scripts/bench_concurrency.py splits each turn's latency with them)
    stages = [json.loads(r.getMessage().partition(": turn stages ")[2]) for r in caplog.records
              if ": turn stages " in r.getMessage() and summary["call_id"] in r.getMessage()]
    assert stages, "no turn stages logged"
    first = stages[0]
    assert first["ended_at"] <= first["picked_at"] <= first["queued_at"] <= first["sent_at"]
    # a kept speculative decode was done before the turn ended: no ASR wait is left then
    assert first["endpoint_ms"] > 0 and (first["asr_ms"] > 0 or first["speculative"])


def _udp_drops(port: int) -> int:
    """Datagrams the kernel dropped on the UDP socket bound to `port` (its receive buffer was full:
    they never reached the worker), from /proc/net/udp's last column."""
    for line in open("/proc/net/udp").read().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            return int(fields[-1])
    return 0


def test_keys_authenticate_and_random_rtp_changes_nothing(worker, tmp_path):
    silence = write_wav(tmp_path / "silence.wav", Audio.silence(40, 8000))
    # the previous test's call may still be closing its record: the junk must go to this call's leg
    before = len(worker.wait_ended(len(worker.server.ended) + len(worker.server.calls)))
    caller = worker.dial(tmp_path, "keys", silence)
    call = next(iter(worker.server.calls.values()))
    rng = random.Random(7)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as junk:
        for _ in range(200):  # random datagrams, some shaped like RTP v2 with our codec
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
            if rng.random() < 0.5:
                data = bytes([0x80, 0]) + data
            junk.sendto(data, ("127.0.0.1", call.leg.local_port))
            time.sleep(0.005)  # spaced: a burst would overflow the socket's buffer in the kernel
    time.sleep(0.5)
    lost_in_kernel = _udp_drops(call.leg.local_port)  # a loaded machine can still stall the loop
    caller.command("reinvite")  # a session refresh mid-call changes nothing either
    time.sleep(1.0)
    caller.keys("3")  # main menu: report a lost card → authentication
    time.sleep(1.0)
    caller.keys("12345678")
    time.sleep(1.0)
    caller.keys("2468")
    time.sleep(3.0)
    caller.command("hangup")
    caller.stop()
    summary = worker.wait_ended(before + 1)[-1]
    record = _record(worker, summary)
    assert record["authenticated"] is True, json.dumps(record["turns"])
    assert "report_lost_card" in record["intents"]
    assert summary["rtp_dropped"] + lost_in_kernel >= 200  # every junk datagram was refused


def test_hangup_mid_prompt_leaves_an_abandoned_record(worker, tmp_path):
    silence = write_wav(tmp_path / "silence.wav", Audio.silence(20, 8000))
    before = len(worker.server.ended)
    caller = worker.dial(tmp_path, "quitter", silence)
    time.sleep(2.5)  # greeting and menu take ~8 s: this is mid-prompt
    caller.command("hangup")
    caller.stop()
    summary = worker.wait_ended(before + 1)[-1]
    record = _record(worker, summary)
    assert record["outcome"] == "abandoned" and record["ended_at"] is not None


def test_caller_talking_over_the_greeting_barges_in(worker, stack, speak, tmp_path):
    """Full duplex: 2 s into the greeting the caller says what they want; the prompt stops (the
    record's first bot turn is interrupted, having played only part of it) and the request is
    understood and answered."""
    request = read_wav(speak("I lost my card.")).canonical(8000)
    wav = write_wav(tmp_path / "over.wav", Audio.silence(2.0, 8000) + request + Audio.silence(10.0, 8000))
    before = len(worker.server.ended)
    caller = Baresip(tmp_path, "eager", wav, dial=f"sip:bot@127.0.0.1:{worker.port}", seconds=30)
    caller.wait(60)
    record = _record(worker, worker.wait_ended(before + 1)[-1])
    first = record["turns"][0]["bot"]
    greeting_ms = stack.prompts.render(first["text"]).duration * 1000
    assert first["interrupted"] is True and first["played_ms"] < greeting_ms - 1000, json.dumps(record["turns"])
    assert "report_lost_card" in record["intents"], json.dumps(record["turns"])
    heard = read_wav(caller.heard())
    after = Audio(heard.samples[int((2.0 + request.duration) * heard.rate):], heard.rate)
    reply = stack.recognizer.transcribe(after).text.lower()
    assert "customer number" in reply, reply  # the answer to the request reached the caller
