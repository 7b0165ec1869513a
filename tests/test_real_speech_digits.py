"""Digit strings said by a real person: Debian's asterisk-core-sounds-en-wav holds a professional
speaker's recordings of each digit at 8 kHz (telephone band). Strung together with short pauses
they are a caller reading their number slowly, digit by digit: the recogniser hears them with a
digit prompt's hints, and a whole call replayed with them authenticates (the caller's request is
voiced by Piper). The only human-spoken digits in the suite; every other digit answer is TTS."""

from __future__ import annotations

import numpy as np
import pytest

from test_calls_audio import WEEKDAY_NOON, flow, stack  # noqa: F401  (the bank flow, models loaded once)
from voicebot.asr.base import Hints
from voicebot.asr.testsets import ASTERISK_SOUNDS, asterisk_speech
from voicebot.audio import Audio, read_wav
from voicebot.flow import CallEngine
from voicebot.pipeline import Session
from voicebot.speechgen import CLEAN
from voicebot.store import open_store
from voicebot.transports.replay import play_call

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (ASTERISK_SOUNDS / "digits" / "0.wav").is_file(),
                                                   reason="apt asterisk-core-sounds-en-wav not installed")]
PAUSE_S = 0.1  # between digits, on top of the silence each recording carries (~0.3 s)


def said_by_a_person(digits: str) -> Audio:
    parts = [read_wav(ASTERISK_SOUNDS / "digits" / f"{d}.wav") for d in digits]
    gap = np.zeros(int(parts[0].rate * PAUSE_S), dtype=np.int16)
    samples = np.concatenate([x for p in parts for x in (p.samples, gap)])
    return Audio(samples, parts[0].rate)


@pytest.mark.parametrize("digits", ["2468", "1111", "9055", "7340", "12345678", "87654321", "40031122"])
def test_a_number_read_digit_by_digit_is_heard_exactly(stack, digits):
    heard = stack.recognizer.transcribe(said_by_a_person(digits), Hints(kind="digits", length=len(digits)))
    assert heard.text.replace(" ", "") == digits, heard


def test_a_caller_who_reads_their_numbers_aloud_is_verified(stack, flow, speak, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'calls.db'}", demo=True)
    turns = [read_wav(speak("I lost my card", "piper", CLEAN)), said_by_a_person("12345678"), said_by_a_person("2468")]
    session = play_call(Session(CallEngine(flow, store, now=WEEKDAY_NOON), stack), turns)
    record = session.engine.record.to_dict()
    assert record["authenticated"] is True and session.engine.record.customer_id == "12345678"
    assert {c.kind: c.status for c in store.get_customer("12345678").cards}["debit"] == "blocked"


def test_the_natural_speech_guard_reads_the_prompts_and_their_words():
    """bench_asr's `asterisk` set: plain-word prompts only, each with its recording."""
    utts = asterisk_speech()
    assert len(utts) >= 500 and all(u.path.is_file() for u in utts)
    texts = {u.path.stem: u.text for u in utts}
    assert texts["0"] == "zero" and not any("[" in t or "*" in t or "#" in t for t in texts.values())
