"""Recognition shared across calls: Whisper's batched decode hears what one-at-a-time decoding
hears, and the decoder thread that gathers every call's turns keeps each call's answers its own
and in order, batches what arrives together, bounds its queue and survives a bad request."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from voicebot.asr.base import Hints, get_recognizer
from voicebot.asr.testsets import POCKETSPHINX_TESTDATA, telephone_set
from voicebot.asr.wer import normalize_text
from voicebot.audio import Audio, read_wav
from voicebot.events import Transcript
from voicebot.pipeline.batching import DecodeBatcher, shared_recognizer
from voicebot.pipeline.workers import Strand


def _requests(speak, telephone):
    """Open speech (Piper over the phone line, and a real recording when Debian ships it), plus the
    answers a digits and a yes/no prompt get."""
    out = [(read_wav(u.path), Hints()) for u in telephone_set("piper")[:4]]
    real = POCKETSPHINX_TESTDATA / "cards" / "004.wav"
    if real.is_file():
        out.append((read_wav(real), Hints()))
    out.append((read_wav(speak("two four six eight", "piper", telephone)), Hints("digits", length=4)))
    out.append((read_wav(speak("yes please", "piper", telephone)), Hints("yesno")))
    out.append((read_wav(speak("what's my balance", "piper", telephone)), Hints()))
    return out


@pytest.mark.slow
def test_batched_whisper_hears_what_one_at_a_time_hears(speak, telephone):
    from voicebot.nlu import load_model

    whisper = get_recognizer("whisper")
    requests = _requests(speak, telephone)
    alone = [whisper.transcribe(audio, hints) for audio, hints in requests]
    together = whisper.transcribe_many(requests)
    nlu = load_model()
    for (_, hints), one, batch in zip(requests, alone, together):
        assert normalize_text(batch.text) == normalize_text(one.text) or \
            nlu.understand(batch.text).intent == nlu.understand(one.text).intent
    assert [t.text for t, (_, h) in zip(together, requests) if h.kind != "free"] == ["2468", "yes"]
    assert all(t.text for t in together)  # every one of them was heard


@pytest.mark.slow
def test_calls_sharing_the_decoder_get_their_own_answers_in_order(speak, telephone):
    """Three calls, each with its own strand on the shared pool, say two turns each at once."""
    batcher = shared_recognizer(get_recognizer("whisper"))
    assert isinstance(batcher, DecodeBatcher) and shared_recognizer(get_recognizer("whisper")) is batcher
    said = (("I lost my card", "what's my balance"), ("let me talk to an agent please", "I lost my card"),
            ("what's my balance", "let me talk to an agent please"))
    nlu_words = {"I lost my card": "card", "what's my balance": "balance", "let me talk to an agent please": "agent"}
    heard: dict[int, list[str]] = {k: [] for k in range(len(said))}
    strands = [Strand() for _ in said]
    before = len(batcher.batches)
    for k, turns in enumerate(said):
        for text in turns:
            audio = read_wav(speak(text, "piper", telephone))
            strands[k].submit(lambda k=k, audio=audio: heard[k].append(batcher.transcribe(audio).text))
    for strand in strands:
        assert strand.wait(300) and not strand.errors
    for k, turns in enumerate(said):
        assert [nlu_words[t] in h.lower() for t, h in zip(turns, heard[k])] == [True, True], heard[k]
    assert sum(batcher.batches[before:]) == 6  # every turn went through the shared decoder


class _Echo:
    """A recogniser whose transcript is the audio's first sample, so answers can be matched to
    requests; `transcribe_many` records its batches and may be told to fail."""

    name, batched = "echo", True

    def __init__(self, delay: float = 0.05) -> None:
        self.delay, self.seen, self.fail_on = delay, [], None
        self.gate = threading.Event()
        self.gate.set()

    def _one(self, audio: Audio) -> Transcript:
        value = int(audio.samples[0])
        if value == self.fail_on:
            raise ValueError("unreadable")
        return Transcript(str(value), self.name, audio.duration, 0.0)

    def transcribe(self, audio: Audio, hints: Hints = Hints()) -> Transcript:
        return self._one(audio)

    def transcribe_many(self, requests):
        self.seen.append(len(requests))
        self.gate.wait(10)
        time.sleep(self.delay)  # a decode takes a while: requests pile up meanwhile
        return [self._one(a) for a, _ in requests]


def _audio(value: int) -> Audio:
    return Audio(np.full(160, value, np.int16), 16000)


def test_decoder_batches_concurrent_requests_and_keeps_each_callers_order():
    echo = _Echo()
    batcher = DecodeBatcher(echo, max_batch=4)
    results: dict[int, list[str]] = {}

    def caller(k: int) -> None:
        results[k] = [batcher.transcribe(_audio(100 * k + i)).text for i in range(5)]

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {k: [str(100 * k + i) for i in range(5)] for k in range(6)}
    assert max(echo.seen) > 1 and max(echo.seen) <= 4  # concurrent turns shared a pass, never more than 4
    assert sum(echo.seen) == 30 and batcher.waiting == 0


def test_decoder_queue_is_bounded_and_one_bad_request_fails_alone():
    echo = _Echo(delay=0.0)
    echo.gate.clear()  # the decoder holds its first batch until the test lets it go
    batcher = DecodeBatcher(echo, max_batch=1, max_waiting=2, gather_s=0)
    echo.fail_on = 7
    futures = [batcher.submit(_audio(1))]
    deadline = time.monotonic() + 10
    while not echo.seen and time.monotonic() < deadline:  # the decoder has taken it
        time.sleep(0.01)
    futures += [batcher.submit(_audio(v)) for v in (7, 3)]  # the queue is now full
    blocked = threading.Thread(target=lambda: futures.append(batcher.submit(_audio(4))))
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive() and len(futures) == 3 and batcher.waiting == 3  # the fourth waits for room
    echo.gate.set()
    blocked.join(10)
    assert futures[0].result(10).text == "1" and futures[2].result(10).text == "3" and futures[3].result(10).text == "4"
    with pytest.raises(ValueError):
        futures[1].result(10)


def test_decoder_gives_freed_memory_back_only_when_nothing_waits(monkeypatch):
    from voicebot.pipeline import batching

    echo = _Echo(delay=0.0)
    echo.gate.clear()
    trims: list[int] = []
    monkeypatch.setattr(batching, "trim_malloc", lambda: trims.append(len(echo.seen)))
    batcher = DecodeBatcher(echo, max_batch=1, gather_s=0)
    futures = [batcher.submit(_audio(1))]
    deadline = time.monotonic() + 10
    while not echo.seen and time.monotonic() < deadline:  # the decoder holds the first one
        time.sleep(0.01)
    futures += [batcher.submit(_audio(v)) for v in (2, 3)]  # these queue behind it
    echo.gate.set()
    assert [f.result(10).text for f in futures] == ["1", "2", "3"]
    deadline = time.monotonic() + 10
    while not trims and time.monotonic() < deadline:
        time.sleep(0.01)
    assert trims == [3]  # not after the first two decodes (others waited), once after the last


def test_backends_that_cannot_batch_are_used_as_they_are():
    class Plain:
        name = "plain"

    plain = Plain()
    assert shared_recognizer(plain) is plain and shared_recognizer(None) is None


def test_sip_admission_lets_every_call_reach_the_shared_decoder():
    """The SIP worker guards its models with locks; the batching decoder gets none (a lock would let
    one call's turn reach it at a time), and its queue is the depth admission control reads."""
    from voicebot.pipeline import Stack
    from voicebot.transports.sip.admission import Admission, Limits, shared_stack

    echo = _Echo(delay=0.0)
    echo.gate.clear()
    batcher = DecodeBatcher(echo, max_batch=1, gather_s=0)
    stack, guarded = shared_stack(Stack(recognizer=batcher, nlu=None, prompts=None))
    threads = [threading.Thread(target=stack.recognizer.transcribe, args=(_audio(v),)) for v in (1, 2, 3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while batcher.waiting < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert batcher.waiting == 3 and guarded.waiting == 3  # all three in the decoder's queue at once
    assert Admission(Limits(max_calls=50, max_decode_queue=3), guarded).refuse(1) is not None
    echo.gate.set()
    for t in threads:
        t.join(10)
    assert guarded.waiting == 0 and Admission(Limits(max_calls=50, max_decode_queue=3), guarded).refuse(1) is None
