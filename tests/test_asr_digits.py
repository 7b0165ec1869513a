"""Digit prompts (customer ID, PIN, CSAT) on telephone audio: the default recogniser with the
expected length from the flow gets the digits right, however they are said."""

from __future__ import annotations

import pytest

from voicebot.asr import Hints, get_recognizer
from voicebot.asr.numbers import words_to_digits
from voicebot.audio import Audio, read_wav
from voicebot.speechgen import TELEPHONE
from voicebot.vad import split_utterances

pytestmark = pytest.mark.slow

SAID = [
    "my customer number is one two three four five six seven eight",
    "eight seven six five four three two one",
    "my pin is one three five seven",
    "two four six eight",
    "zero nine one one",
    "four",
]


def test_digit_strings_over_the_phone(speak):
    recognizer = get_recognizer("whisper")
    right, wrong = 0, []
    for text in SAID:
        for voice in ("piper", "flite:slt"):
            audio = read_wav(speak(text, voice, TELEPHONE)).canonical()
            # through the VAD, as a live call would cut it
            utterance = split_utterances(Audio.silence(0.5) + audio + Audio.silence(1.0))[0].audio
            want = words_to_digits(text)
            got = recognizer.transcribe(utterance, Hints("digits", length=len(want))).text
            right += got == want
            if got != want:
                wrong.append((voice, text, got))
    assert right >= 10, wrong  # of 12
