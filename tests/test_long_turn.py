"""A caller who talks on past the Session's limit for one turn (20 s) is cut politely: the bot says
"Sorry to stop you there." while the caller is still talking and answers what was said so far.
Session-level, on samples (virtual time): a Piper monologue with its pauses squeezed out, so no
pause ends the turn before the limit does."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from voicebot.audio import Audio, read_wav
from voicebot.events import Prompt, SpeechEnded
from voicebot.flow import CallEngine, load_flow
from voicebot.pipeline import Session, Stack
from voicebot.pipeline.session import MAX_TURN_S
from voicebot.pipeline.turns import CUT_SHORT
from voicebot.store import open_store

pytestmark = pytest.mark.slow

NOON = datetime(2026, 11, 18, 12, 0, tzinfo=ZoneInfo("America/New_York"))
MONOLOGUE = (  # the request first, then a story that goes on (the flow's NLU reads it all)
    "I need to report a lost debit card, I lost my debit card yesterday and I want you to block it, "
    "because I was at the big supermarket on the corner of Main Street with my sister and her two "
    "children, and we were buying food for the whole weekend since my parents are coming to visit, "
    "and at the checkout I opened my bag and my wallet was simply not there, so I looked everywhere "
    "in the car and under the seats and in every pocket of my coat, and then I went back to the shop "
    "and asked at the service desk whether anybody had handed it in, but nobody had seen it at all, "
    "and my sister thinks somebody might have taken it while we were looking at the fruit.")


def _without_pauses(audio: Audio, keep_ms: int = 60) -> Audio:
    """The same words with every quiet stretch cut to `keep_ms`: a caller who never pauses."""
    pcm = audio.canonical().samples
    hop = 160  # 10 ms
    blocks = [pcm[i:i + hop] for i in range(0, pcm.shape[0] - hop + 1, hop)]
    peak = max(float(np.sqrt(np.mean(b.astype(np.float64) ** 2))) for b in blocks)
    kept, quiet = [], 0
    for block in blocks:
        loud = np.sqrt(np.mean(block.astype(np.float64) ** 2)) > peak * 10 ** (-40 / 20)
        quiet = 0 if loud else quiet + 1
        if loud or quiet * 10 <= keep_ms:
            kept.append(block)
    return Audio(np.concatenate(kept), 16000)


def _hear(session: Session, frames: list[Audio]) -> None:
    for frame in frames:
        session.push(frame)
        session.read(session.frame_ms)
        session.settle()


def prompts_of(session: Session) -> list[str]:
    return [e.text for e in session.events if isinstance(e, Prompt)]


def test_a_caller_talking_past_the_limit_is_cut_politely_and_answered(speak, tmp_path):
    speech = _without_pauses(read_wav(speak(MONOLOGUE, "piper")))
    assert speech.duration > MAX_TURN_S + 2  # the caller would go on well past the limit
    stack = Stack.load(asr="whisper", tts="piper")
    engine = CallEngine(load_flow("flows/bank.yml"),
                        open_store(f"sqlite:///{tmp_path / 'c.db'}", demo=True), now=NOON)
    session = Session(engine, stack)
    session.start()
    silence = Audio.silence(session.frame_ms / 1000)
    while session.speaking or session.busy:  # the greeting and the menu, heard in full
        session.push(silence)
        session.read(session.frame_ms)
        session.settle()
    frames = list(speech.frames(session.frame_ms))
    said = 0
    for said, frame in enumerate(frames, 1):  # the caller talks until the bot cuts in
        session.push(frame)
        session.read(session.frame_ms)
        session.settle()
        if session.speaking:
            break
    assert said < len(frames), "the caller was never stopped"
    cut = [e for e in session.events if isinstance(e, SpeechEnded)]
    assert len(cut) == 1 and cut[0].end - cut[0].start == pytest.approx(MAX_TURN_S, abs=0.1)
    assert said * session.frame_ms / 1000 < MAX_TURN_S + 1  # cut while talking, not after a pause
    prompts = [e.text for e in session.events if isinstance(e, Prompt)]
    assert CUT_SHORT in prompts  # politely
    _hear(session, [silence] * 300)  # the caller lets the bot answer
    if engine.expecting.kind == "yesno":  # a card block from a rambling turn's reading is confirmed first
        assert "lost" in prompts_of(session)[-1], prompts_of(session)[-1]
        _hear(session, [*read_wav(speak("Yes, that's right.", "piper")).frames(session.frame_ms), *[silence] * 300])
    assert engine.record.intents == ["report_lost_card"]  # what was said before the cut is answered
    assert engine.expecting.secret  # the flow moved on: the customer number is asked for
