"""The Session's live barge-in path on an 8 kHz telephone line whose echo returns the bot's own
voice at -10 dB: the default detector (Silero, `Stack.barge_in="silero"`) behind the Session's
seam, the echo canceller on the caller frames against what the Session played. Real renders
(Piper prompts, a flite caller), every figure counted in samples."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

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
