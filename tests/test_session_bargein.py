"""The Session's live barge-in path on an 8 kHz telephone line whose echo returns the bot's own
voice at -10 dB: the default detector (Silero, `Stack.barge_in="silero"`) behind the Session's
seam, the echo canceller on the caller frames against what the Session played. Real renders
(Piper prompts, a flite caller), every figure counted in samples."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import webrtcvad

from voicebot.audio import Audio
from voicebot.audio.echo_path import place
from voicebot.flow import CallEngine, load_flow
from voicebot.linegen import RATE, Line, bot_audio, caller_audio, echo_gain, first_barge_in, line_noise, run_line
from voicebot.pipeline import Session, Stack
from voicebot.pipeline.bargein import DEFAULT, SileroBargeIn, make_barge_in
from voicebot.pipeline.events import BargedIn, Interrupted
from voicebot.store import open_store

pytestmark = pytest.mark.slow
NOON = datetime(2026, 11, 18, 12, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture(scope="module")
def stack():
    return Stack.load(asr="whisper", tts="piper")


def _session(stack: Stack, tmp_path, barge_in: str = "silero", echo: str = "webrtc") -> Session:
    line_stack = Stack(stack.recognizer, stack.nlu, stack.prompts, stack.vad, barge_in=barge_in, echo=echo)
    engine = CallEngine(load_flow("flows/bank.yml"), open_store(f"sqlite:///{tmp_path / 'line.db'}", demo=True),
                        now=NOON)
    return Session(engine, line_stack)


@pytest.fixture(scope="module")
def greeting(stack, tmp_path_factory) -> tuple[Audio, float]:
    """The greeting as the Session plays it on the line, and the gain for its echo at -10 dB."""
    bot = bot_audio(_session(stack, tmp_path_factory.mktemp("greeting"), echo="off"))
    assert bot.duration > 4
    return bot, echo_gain(bot)


def _line(greeting, event: Audio | None, at_s: float, total_s: float, seed: int = 3) -> Line:
    _, gain = greeting
    sound = place(event if event is not None else Audio.silence(0.01, RATE), at_s, total_s)
    return Line(gain, line_noise(sound.num_samples, seed), sound)


def test_silero_is_the_default_and_the_session_builds_it():
    assert DEFAULT == "silero"
    assert isinstance(make_barge_in("silero", 16000, Stack(None, None, None).vad), SileroBargeIn)


def test_a_caller_over_the_greeting_stops_it_and_is_answered(stack, greeting, tmp_path):
    words, onset = caller_audio("I lost my debit card", "flite:slt")
    at = 2.0
    session = _session(stack, tmp_path)
    run_line(session, _line(greeting, words, at, 9.0))
    session.hangup()
    session.settle()
    onset16 = 2 * (round(at * RATE) + onset)
    [barged] = [e for e in session.events if isinstance(e, BargedIn)][:1]
    decided = round(barged.at * 16000) - onset16
    assert 0 <= decided <= 0.2 * 16000, decided / 16  # the prompt paused within 200 ms of the onset
    first = session.engine.record.to_dict()["turns"][0]["bot"]
    assert first["interrupted"] is True
    assert any(isinstance(e, Interrupted) and e.by == "speech" for e in session.events)
    assert session.engine.record.intents[:1] == ["report_lost_card"]  # the turn from its first syllable


def test_the_bots_own_echo_at_minus_10_db_does_not_stop_the_greeting(stack, greeting, tmp_path):
    bot, _ = greeting
    (tmp_path / "a").mkdir()
    assert first_barge_in(_session(stack, tmp_path / "a"), _line(greeting, None, 0.0, bot.duration + 0.5)) is None
    # the canceller is what holds: the same line without it barges in on the bot's own voice
    (tmp_path / "b").mkdir()
    assert first_barge_in(_session(stack, tmp_path / "b", echo="off"),
                          _line(greeting, None, 0.0, bot.duration + 0.5)) is not None


def test_a_silent_caller_under_the_greeting_costs_no_silero_inference(stack, tmp_path):
    from voicebot.vad import silero

    before = silero.INFERENCES[0]
    bot = bot_audio(_session(stack, tmp_path, echo="off"))  # the caller sends digital silence
    assert bot.duration > 4 and silero.INFERENCES[0] == before


def test_skipping_quiet_chunks_decides_on_the_same_sample_as_hearing_them_all():
    """The pre-check skips chunks under -50 dBFS; the VAD catches up on them before the next one,
    so a caller after a quiet stretch is decided exactly where the every-chunk detector decides."""
    from voicebot.vad import silero
    from voicebot.vad.bargein import BargeInDetector

    words, _ = caller_audio("I want to talk to an agent", "flite:rms")
    quiet = line_noise(RATE, seed=5, dbfs=-62.0)
    line = Audio(np.concatenate([quiet.samples, words.samples, quiet.samples]), RATE).canonical(16000)
    decided, inferences = [], []
    for precheck in (True, False):
        detector, before = BargeInDetector(), silero.INFERENCES[0]
        detector.precheck = precheck
        hits = [hit for i in range(0, line.num_samples - 320, 320)
                if (hit := detector.push(Audio(line.samples[i : i + 320], 16000)))]
        decided.append(hits[0].fired_sample if hits else None)
        inferences.append(silero.INFERENCES[0] - before)
    assert decided[0] is not None and decided[0] == decided[1]
    assert inferences[0] < inferences[1]


def test_with_the_bot_quiet_silero_stays_off_and_the_energy_gate_judges_own_speech():
    from voicebot.pipeline.interrupt import SustainedSpeech
    from voicebot.vad import silero

    words, _ = caller_audio("what is my balance", "espeak:en-us")
    speech = words.canonical(16000)
    frames = [Audio(speech.samples[i : i + 480], 16000) for i in range(0, speech.num_samples - 480, 480)]
    quiet_bot = Audio(np.zeros(480, np.int16), 16000)
    detector, energy, before = SileroBargeIn(hold_ms=0), SustainedSpeech(30), silero.INFERENCES[0]
    vad = webrtcvad.Vad(2)
    for frame in frames:
        voiced = vad.is_speech(frame.to_bytes(), 16000)
        heard = detector.hear(frame, quiet_bot, voiced)
        assert not heard.barge_in and heard.own_speech == energy.hear(frame, quiet_bot, voiced).own_speech
    assert silero.INFERENCES[0] == before
    # the same caller while the bot plays (its audio in `played`): Silero listens and decides
    tone = Audio((3000 * np.sin(np.arange(480) * 2 * np.pi * 440 / 16000)).astype(np.int16), 16000)
    detector = SileroBargeIn()
    assert any(detector.hear(f, tone, vad.is_speech(f.to_bytes(), 16000)).barge_in for f in frames)
    assert silero.INFERENCES[0] > before
