"""Answers to the survey's 1-5 rating prompt (flows/bank.yml `survey`, expect: csat): decided from
the first reading, or from the ten digits scored against the audio in one pass
(voicebot/asr/whisper.py `_one_digit`); "yes" is no rating, so the flow asks again. Also the two
waste points of a turn removed with it: the standard decode reuses an early one heard on the same
voiced speech (pipeline/speculation.py), and a lone decode does not wait for company
(pipeline/batching.py)."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from voicebot.asr.base import Hints
from voicebot.asr.domain import one_digit
from voicebot.audio import Audio, read_wav
from voicebot.bench.latency import Listening
from voicebot.events import Transcript
from voicebot.flow.actions import Ask, Expect
from voicebot.pipeline import Session, Stack


@pytest.mark.parametrize("text, digit", [
    ("5 5", "5"), ("Three. Three. Three.", "3"), ("4 out of 5.", "4"), ("Four of the five.", "4"),
    ("I'd give it a two.", "2"), ("5 3 3.", None), ("1 2 1", None), ("Yes.", None), ("Ten.", None), ("", None),
])
def test_a_one_digit_answer_is_one_digit_said_once_or_looped(text, digit):
    assert one_digit(text) == digit


@pytest.mark.slow
def test_the_ten_digits_scored_in_one_pass_score_as_the_digit_search_does(speak, telephone):
    from voicebot.asr import get_recognizer
    from voicebot.asr.whisper_digits import digit_search, one_digit_scores

    recognizer = get_recognizer("whisper")
    hints = Hints("digits", length=1)
    utt = recognizer._prepare(read_wav(speak("yes", "piper", telephone)).canonical(), hints)
    prompt = recognizer._prompt(hints)
    fast = one_digit_scores(recognizer._model, recognizer._tokenizer, utt.encoded, prompt)
    searched = [(s, lp) for s, lp in digit_search(recognizer._model, recognizer._tokenizer, utt.encoded, prompt, 3)
                if len(s) == 1]
    assert len(fast) == 10 and fast[0][0] == searched[0][0]
    assert fast[0][1] == pytest.approx(searched[0][1], abs=1e-3)


@pytest.mark.slow
def test_yes_at_the_rating_prompt_is_asked_again_and_a_rating_said_then_is_recorded(speak, tmp_path):
    """The latency benchmark's third caller: "yes" to "on a scale of one to five…" used to be
    heard as 1 and recorded as CSAT 1. Now the bot asks again, and the "three" said then counts."""
    from voicebot.flow import CallEngine, load_flow
    from voicebot.store import open_store
    from voicebot.transports.replay import replay_audio

    turns = ["what time does the branch open on saturday", "no thank you", "yes", "three"]
    engine = CallEngine(load_flow("flows/bank.yml"), open_store(f"sqlite:///{tmp_path / 'c.db'}", demo=True),
                        now=datetime(2026, 11, 18, 12, 0, tzinfo=ZoneInfo("America/New_York")))
    stack = Stack.load(asr="whisper", tts=None)
    record = replay_audio(Session(engine, stack), [str(speak(t, "piper")) for t in turns]).engine.record.to_dict()
    asked = [t for t in record["turns"] if "scale of one to five" in (t["bot"]["text"] or "")]
    assert len(asked) == 2, [t["bot"]["text"] for t in record["turns"]]
    assert record["csat"] == 3


class Counting:
    """Hears `text` at once; counts its decodes."""

    name = "counting"

    def __init__(self, text: str) -> None:
        self.text, self.decodes = text, 0

    def transcribe(self, audio, hints=None) -> Transcript:
        self.decodes += 1
        return Transcript(self.text, self.name, audio.duration, 0.0)

    def partials(self, frames, hints=None):
        return iter(())


def test_an_incomplete_answer_is_heard_again_at_the_standard_pause(speak):
    """"yes" at the rating prompt is no complete answer: the hang-over ends the turn, and the
    turn's reading is the standard decode's (240 ms of tail), not the early one's (60 ms), even
    though no voiced frame came between them: Whisper's reading depends on that tail."""
    from voicebot.pipeline.events import TurnTiming

    recognizer = Counting("yes")
    session = Session(Listening(Expect("csat")), Stack(recognizer, None, None))
    session.listen(Ask("", Expect("csat")), "survey")
    for frame in (read_wav(speak("yes", "piper")).canonical() + Audio.silence(1.0)).frames(20):
        session.push(frame)
        session.settle()
    timing = [e for e in session.events if isinstance(e, TurnTiming)]
    heard = [e.text for e in session.events if isinstance(e, Transcript)]
    assert len(timing) == 1 and timing[0].ended_by == "hang-over" and timing[0].speculative
    assert heard == ["yes"] and recognizer.decodes == 2


class _Gate:
    name, batched = "gate", True

    def __init__(self) -> None:
        self.seen: list[int] = []

    def transcribe_many(self, requests):
        self.seen.append(len(requests))
        return [Transcript(str(int(a.samples[0])), self.name, a.duration, 0.0) for a, _ in requests]


def test_a_lone_decode_on_an_idle_decoder_does_not_wait_for_company():
    """The gather window (here 60 s) is paid only after a batch that had company."""
    from voicebot.pipeline.batching import DecodeBatcher

    inner = _Gate()
    batcher = DecodeBatcher(inner, max_batch=4, gather_s=60.0)
    done = threading.Event()
    result: list[str] = []
    threading.Thread(target=lambda: (result.append(batcher.transcribe(Audio(np.full(160, 7, np.int16), 16000)).text),
                                     done.set()), daemon=True).start()
    assert done.wait(20), "a lone decode waited for the gather window"
    assert result == ["7"] and inner.seen == [1]
