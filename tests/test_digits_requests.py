"""A digits prompt answered with words of a request ("my customer number was wrong") keeps the
words, so the flow can act on them; misheard digits ("Cameron, Cameron…") are still searched."""

from __future__ import annotations

import pytest

from voicebot.asr import Hints, get_recognizer
from voicebot.asr.domain import may_be_a_request, says_a_request
from voicebot.audio import Audio, read_wav
from voicebot.cli.transcribe import as_prompt_would
from voicebot.speechgen import TELEPHONE

PIN = Hints("digits", length=4)


def test_request_words_are_told_from_misheard_digits():
    assert says_a_request("My customer number was wrong.", PIN)
    assert says_a_request("I want to talk to an agent", PIN)
    assert not says_a_request("Cameron, Cameron, Cameron, Cameron.", PIN)  # robotic "seven seven…"
    assert not says_a_request("We are on the Iron States, Heaven.", PIN)  # "… zero nine eight seven"
    assert not says_a_request("my number is 1 2 3 4", PIN)  # digits: the number itself
    assert not says_a_request("my customer number was wrong", Hints())  # open prompts: nothing to keep


def test_a_request_word_heard_as_a_digit_is_checked_openly():
    """The 0.7 blend heard flite slt's "my customer number was wrong" as "My customer in number was 1"."""
    assert may_be_a_request("My customer in number was 1", PIN)
    assert not may_be_a_request("my number is 1 2 3 4", PIN)  # complete: the number itself
    assert not may_be_a_request("1 2", PIN)  # a group before a pause
    assert not may_be_a_request("My customer number was wrong.", PIN)  # no digit: says_a_request's case
    assert not may_be_a_request("My customer in number was 1", Hints("digits"))  # no length to fall short of


@pytest.mark.slow
@pytest.mark.parametrize("voice", ["flite:slt", "piper"])
def test_a_request_at_a_pin_prompt_is_heard_as_words(speak, voice):
    """flite slt's "my customer number was wrong" came out as "1" under the digit prompt."""
    audio = Audio.silence(0.5) + read_wav(speak("my customer number was wrong", voice, TELEPHONE)).canonical() \
        + Audio.silence(1.0)
    heard = as_prompt_would(get_recognizer("whisper"), audio, PIN)
    assert "number" in heard.lower() and not any(c.isdigit() for c in heard)


@pytest.mark.slow
@pytest.mark.parametrize("voice", ["flite:slt", "flite:kal"])
def test_words_without_a_digit_at_a_pin_prompt_are_kept_as_said(speak, voice):
    """"I don't know it, that's the problem" was heard right under the digit prompt (0.95 sure in
    flite slt) and then searched for digits anyway: "5000", "5006" — a made-up PIN attempt."""
    audio = Audio.silence(0.5) + read_wav(speak("I don't know it, that's the problem", voice, TELEPHONE)).canonical() \
        + Audio.silence(1.0)
    heard = as_prompt_would(get_recognizer("whisper"), audio, PIN)
    assert "know" in heard.lower() and not any(c.isdigit() for c in heard)


def test_a_correction_at_the_pin_prompt_survives_an_inserted_word():
    """flite slt's "my customer number was wrong" came out as "My customer and number was on.":
    the PIN prompt's correction phrases allow one word between theirs; the global phrases stay
    exact ("the wrong account number" is no wrong number)."""
    from voicebot.flow.inputs import spotted_state
    from voicebot.flow.schema import AuthSpec

    phrases = {"id": AuthSpec().correct_id_phrases}
    assert spotted_state("My customer and number was on.", phrases, gap=1) == "id"
    assert spotted_state("My customer and number was on.", phrases) is None
    assert spotted_state("two four six eight", phrases, gap=1) is None
    assert spotted_state("I have the wrong account number", {"wrong_number": ["wrong number"]}) is None
