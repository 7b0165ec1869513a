"""Replay a call from recorded caller turns (WAV files, DTMF, or text), through the same Session
the live transports use. Each item is one caller turn fed after the bot's prompt; a WAV holding
several turns separated by silence works too (the VAD cuts it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from voicebot.audio import Audio, read_wav
from voicebot.pipeline import Session

DTMF_PREFIX = "dtmf:"
TRAILING_SILENCE_S = 1.0  # enough for the endpointer's hang-over to close the last utterance


def load_turns(turns: Sequence[str | Path | Audio]) -> list[str | Audio]:
    """Read every turn before the call starts: a broken WAV is reported, not a half-recorded call."""
    return [t if isinstance(t, Audio) else str(t) if str(t).startswith(DTMF_PREFIX) else read_wav(t)
            for t in turns]


def replay_audio(session: Session, turns: Sequence[str | Path | Audio], patience: int = 0) -> Session:
    """Feed each turn after the bot's prompt. With ``patience`` > 0 the caller behaves like a person
    and says a turn again (up to that many times) when the bot did not get it and asks again."""
    loaded = load_turns(turns)
    session.start()
    for turn in loaded:
        with_patience(session, lambda: play_turn(session, turn), patience)
    session.hangup()
    return session


def with_patience(session: Session, say: Callable[[], None], patience: int) -> None:
    """`say` a turn; while the bot did not get it and asks again, say it again (`patience` times)."""
    for _ in range(1 + patience):
        if session.done:
            return
        failures_before = session.engine.policy.failures_total
        say()
        if session.engine.policy.failures_total == failures_before:
            return


def play_turn(session: Session, turn: str | Audio) -> None:
    if isinstance(turn, str):
        session.dtmf(turn[len(DTMF_PREFIX):])
        return
    audio = turn.canonical(session.rate) + Audio.silence(TRAILING_SILENCE_S, session.rate)
    heard_before = session.turns_heard
    for frame in audio.frames(session.stack.vad.frame_ms):
        session.push(frame)
        if session.done:
            return
    if session.turns_heard == heard_before:
        session.no_input()  # the caller said nothing during this whole turn


def replay_text(session: Session, turns: Sequence[str]) -> Session:
    """Same flow from text (no ASR): "dtmf:1234" presses keys, an empty string is silence."""
    session.start()
    for turn in turns:
        if session.done:
            break
        if turn.startswith(DTMF_PREFIX):
            session.dtmf(turn[len(DTMF_PREFIX):])
        elif not turn.strip():
            session.no_input()
        else:
            session.caller_text(turn)
    session.hangup()
    return session
