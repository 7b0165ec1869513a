"""Barge-in on real rendered speech over a telephone line: the bot's prompt comes back as echo at
-10 dB, the caller talks over it (or coughs, clicks). Runs the pieces of the Session's audio path
— 20 ms frames, WebRTC echo canceller at 8 kHz, streaming resampler, Silero barge-in detector — and
measures the decision in samples from the caller's true speech onset."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot.audio.echo import cancel, make_echo_canceller
from voicebot.audio.types import Audio
from voicebot.errors import ModelError
from voicebot.linegen import RATE, barge_in_on, burst, caller_audio, scene
from voicebot.pipeline.backchannel import is_backchannel, not_a_turn
from voicebot.vad.bargein import BargeInConfig, BargeInDetector

PROMPT = "For security, please say or key in your eight digit customer number, one digit at a time."
CALLERS = [("I lost my card yesterday", "flite:slt"), ("what is my balance", "espeak:en-us"),
           ("I want to talk to an agent", "flite:rms")]


def test_the_bots_own_echo_at_minus_10_db_does_not_barge_in():
    for kind in ("line", "room"):
        echo_only = scene(PROMPT, None, echo_kind=kind, seed=3)
        assert barge_in_on(echo_only, "webrtc") is None, kind
        # without cancellation the same echo is speech to the detector: the canceller is what holds
        assert barge_in_on(echo_only, "off") is not None, kind


@pytest.mark.parametrize("words,voice", CALLERS)
def test_a_caller_talking_over_the_prompt_barges_in_within_150_ms(words, voice):
    audio, onset = caller_audio(words, voice)
    sc = scene(PROMPT, audio, at_s=1.2, onset_in_event=onset, seed=7)
    heard = barge_in_on(sc, "webrtc")
    assert heard is not None
    hit = heard.barge_in
    onset16 = sc.onset_sample * 2  # the audio path counts 16 kHz samples
    assert hit.start_sample >= onset16 - 0.03 * 16000, "fired on the echo before the caller spoke"
    # decided by the end of the frame whose push returned it: playback stops there
    assert heard.decided_sample - onset16 <= 0.150 * 16000, (heard.decided_sample - onset16) / 16
    # the pre-roll reaches back before the onset, so the recogniser gets the first syllable
    assert hit.pre_roll.rate == 16000
    assert hit.pre_roll_start <= onset16 - 0.1 * 16000


@pytest.mark.parametrize("kind,ms", [("noise", 100), ("noise", 200), ("pink", 150), ("cough", 150), ("cough", 200), ("click", 5)])
def test_short_noises_during_a_prompt_do_not_barge_in(kind, ms):
    sc = scene(PROMPT, burst(kind, ms, seed=ms), at_s=1.5, seed=11)
    assert barge_in_on(sc, "webrtc") is None


def test_the_detector_fires_once_until_reset():
    audio, onset = caller_audio("I lost my card yesterday", "flite:slt")
    wide = Audio(np.concatenate([np.zeros(8000, np.int16), audio.samples]), RATE).resample(16000)
    detector = BargeInDetector(BargeInConfig())
    frames = list(wide.frames(20))
    fired = [(i, h) for i, f in enumerate(frames) if (h := detector.push(f))]
    assert len(fired) == 1
    # the pre-roll ends with the frame that fired, so the frames after it continue it seamlessly
    i, hit = fired[0]
    pushed = np.concatenate([f.samples for f in frames[: i + 1]])
    assert np.array_equal(hit.pre_roll.samples, pushed[pushed.size - hit.pre_roll.num_samples :])
    assert hit.pre_roll.num_samples >= hit.fired_sample - hit.start_sample
    detector.reset()
    assert [h for f in wide.frames(20) if (h := detector.push(f))]


def test_echo_canceller_frames_must_line_up():
    aec = make_echo_canceller("webrtc", RATE)
    with pytest.raises(ValueError):
        aec.process(Audio(np.zeros(160, np.int16), RATE), Audio(np.zeros(80, np.int16), RATE))
    with pytest.raises(ModelError):
        make_echo_canceller("nope", RATE)
    # a whole signal through the offline helper keeps its length
    x = Audio(np.zeros(1234, np.int16), RATE)
    assert cancel(x, x).num_samples == 1234


@pytest.mark.parametrize("text,expected", [
    ("mm-hm", True), ("Okay.", True), ("uh huh, right", True), ("yeah yeah", True), ("", True),
    ("okay I lost my card", False), ("agent", False), ("no", False), ("what is my balance", False),
])
def test_backchannels_are_not_turns(text, expected):
    assert is_backchannel(text) is expected


def test_a_word_that_answers_the_prompt_is_never_a_backchannel():
    assert is_backchannel("yeah") and not is_backchannel("yeah", answers={"yeah", "okay", "right"})
    # at a yes/no prompt the words the NLU reads as yes/no are the answer; a hum is still not a turn
    assert not_a_turn("okay", "intent") and not not_a_turn("okay", "yesno")
    assert not not_a_turn("uh huh", "yesno") and not_a_turn("umm i see", "yesno") and not_a_turn("", "yesno")
