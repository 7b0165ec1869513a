"""The Whisper window (voicebot/asr/whisper.py): an open answer of 2 s or more is heard in its own
window, shorter ones and digit/yes-no prompts in the 10 s window, and a reading that looks looped
is heard again in the 10 s window."""

import pytest

from voicebot.asr import whisper as w
from voicebot.asr.base import Hints, get_recognizer
from voicebot.audio.wavio import read_wav


def test_window_frames_follow_the_speech_with_a_floor():
    assert w.window_frames(2.7, 0.0) == 600  # 5.7 s → 6 s
    assert w.window_frames(3.0, 0.0) == 600  # exactly 6 s stays 6 s
    assert w.window_frames(0.8, 0.0) == 400
    assert w.window_frames(2.7, 10.0) == 1000  # the floor
    assert w.window_frames(8.2, 10.0) == 1200
    assert w.window_frames(60.0, 0.0) == 3000  # never past the model's 30 s


@pytest.mark.parametrize("text, looped", [
    ("Yes. Yes? Yes, yes.", True), ("Agent? Agent?", True), ("Transfer. Transfer.", True),
    ("my card my card", True),
    ("I'd like to open a new savings account. I'd Like to open the new savings", True),
    ("I want to report a lost credit card", False), ("No, I don't want that.", False),
    ("my account number is 3 1 4 1 5 9", False), ("", False),
])
def test_looks_repeated(text, looped):
    assert w.looks_repeated(text, 3.0) is looped


def test_too_many_words_for_the_time_is_a_loop():
    assert w.looks_repeated("one two three four five six seven eight nine ten eleven", 1.0)
    assert not w.looks_repeated("one two three four five six seven eight", 1.0)


@pytest.fixture(scope="module")
def whisper():
    return get_recognizer("whisper", min_window="0")


def test_sentence_in_its_own_window_and_short_answer_in_ten_seconds(whisper, speak, telephone):
    sentence = read_wav(speak("I want to dispute a payment from last Tuesday", "flite:slt", telephone))
    word = read_wav(speak("agent", "flite:slt", telephone))
    assert sentence.duration >= w.SHORT_SECONDS > word.duration
    assert whisper._prepare(sentence, Hints()).frames == w.window_frames(sentence.duration, 0.0) < 1000
    assert whisper._prepare(word, Hints()).frames == 1000
    assert whisper._prepare(sentence, Hints("yesno")).frames == 1000  # prompts that expect a word
    text = whisper.transcribe(sentence, Hints()).text.lower()
    assert "payment" in text and "tuesday" in text, text


def test_looped_reading_is_heard_again_in_ten_seconds(whisper, speak, telephone, monkeypatch):
    audio = read_wav(speak("what's the balance on my checking account", "flite:slt", telephone))
    utt = whisper._prepare(audio, Hints())
    assert utt.frames < 1000
    utt.first = ("balance balance balance", 0.5, ())  # what a short window's loop looks like
    seen = []
    decode = whisper._decode
    monkeypatch.setattr(whisper, "_decode", lambda utts, s: seen.append(utts[0].frames) or decode(utts, s))
    text = whisper._finish(utt).text.lower()
    assert seen == [1000] and utt.frames == 1000
    assert "balance" in text and not w.looks_repeated(text, audio.duration), text


def test_settings_from_the_environment(monkeypatch):
    from voicebot.envvars import env_number
    from voicebot.errors import ConfigError

    monkeypatch.setenv("VOICEBOT_ASR_THREADS", "2")
    assert w.asr_threads() == 2
    monkeypatch.delenv("VOICEBOT_ASR_THREADS")
    assert w.asr_threads() == 1
    monkeypatch.setenv("VOICEBOT_ASR_THREADS", "two")
    with pytest.raises(ConfigError, match="VOICEBOT_ASR_THREADS"):
        w.asr_threads()
    monkeypatch.setenv("VOICEBOT_ASR_MIN_WINDOW", "0")
    assert env_number("VOICEBOT_ASR_MIN_WINDOW", 10.0) == 0.0
    monkeypatch.delenv("VOICEBOT_ASR_MIN_WINDOW")
    assert env_number("VOICEBOT_ASR_MIN_WINDOW", w.SAFE_WINDOW_SECONDS) == 10.0
