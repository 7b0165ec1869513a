"""Replay a call through the same Session the live transports use, in virtual time: after every
frame the replay waits for the workers (`settle`), so a turn takes no call time to process, the
call is deterministic and runs faster than real time.

Two shapes of caller:
- `replay_audio` / `play_call`: caller turns (WAV files or Audio, dtmf:DIGITS, and for `play_call`
  text understood without ASR or "" for silence), each said once the bot has finished talking,
  like a patient caller; a WAV holding several turns works too (the VAD cuts it). `voicebot
  replay` and the call regression suite (`voicebot eval --calls`) both play calls this way.
- `stream_call`: one WAV is the caller's whole side of the call from the moment it connects (the
  caller channel of a call recording); the bot answers as on a live line, so speech that overlaps
  a prompt barges in. `realtime=True` paces it at 1x (latency measurements, `--realtime`)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from voicebot.audio import Audio, read_wav
from voicebot.errors import ConfigError
from voicebot.pipeline import Session

DTMF_PREFIX = "dtmf:"
TRAILING_SILENCE_S = 1.0  # enough for the endpointer's hang-over to close the last utterance
MAX_WAIT_S = 120.0  # a bot that talks (or thinks) longer than this is stuck
TAIL_S = 15.0  # stream_call: silence after the caller's audio before hanging up

FrameHook = Callable[[int, Audio, Audio], None]


def load_turns(turns: Sequence[str | Path | Audio]) -> list[str | Audio]:
    """Read every turn before the call starts: a broken WAV is reported, not a half-recorded call."""
    return [t if isinstance(t, Audio) else check_keys(str(t)) if str(t).startswith(DTMF_PREFIX) else read_wav(t)
            for t in turns]


def check_keys(turn: str) -> str:
    """A `dtmf:` turn as given, when its keys are ones a phone has (else a ConfigError)."""
    if turn.startswith(DTMF_PREFIX) and not re.fullmatch(r"[0-9*#]+", turn[len(DTMF_PREFIX):]):
        raise ConfigError(f"{turn!r}: a phone's keys are 0-9, * and # (e.g. dtmf:1234)")
    return turn


def tick(session: Session, frame: Audio) -> None:
    """One frame each way, then let the workers finish (virtual time)."""
    session.push(frame)
    session.read(session.frame_ms)
    if session.busy:
        session.settle()


def replay_audio(session: Session, turns: Sequence[str | Path | Audio], patience: int = 0) -> Session:
    """Recorded turns (WAV paths, Audio, "dtmf:…"), read before the call starts; see `play_call`."""
    return play_call(session, load_turns(turns), patience)


def play_call(session: Session, turns: Sequence[str | Audio], patience: int = 0) -> Session:
    """One call from mixed turns: Audio, "dtmf:…", text (understood without ASR), "" (the caller
    stays silent). With ``patience`` > 0 the caller behaves like a person and says a spoken turn
    again (up to that many times) when the bot asks the same question again because it did not
    take the answer (no match, silence, the wrong number of digits); an answer it took and turned
    down (a PIN that does not match) is followed by the next turn, the caller's next try. Keys and
    text are exact, so pressing or typing them again would only repeat what the bot refused."""
    session.start()
    for turn in turns:
        if isinstance(turn, Audio) or turn.startswith(DTMF_PREFIX):
            with_patience(session, lambda: play_turn(session, turn), patience if isinstance(turn, Audio) else 0)
        elif not session.done:
            wait_for_bot(session)
            session.caller_text(turn) if turn.strip() else session.no_input()
            session.settle()
    wait_for_bot(session)
    session.hangup()
    session.settle()
    return session


def with_patience(session: Session, say: Callable[[], None], patience: int) -> None:
    """`say` a turn; while the bot asks the same question again (it did not get it), say it again,
    up to `patience` more times, as a person would. Not when it got the answer and turned it down:
    "two four six nine", "doesn't match", then the script's next turn "two four six eight"."""
    for _ in range(1 + patience):
        wait_for_bot(session)
        if session.done:
            return
        asked = session.last_ask
        say()
        wait_for_bot(session)
        if session.done or session.engine.refused or session.last_ask is None or asked is None \
                or (session.last_ask[0], session.last_ask[1].expect) != (asked[0], asked[1].expect):
            return


def wait_for_bot(session: Session) -> None:
    """Silence from the caller while the bot thinks and talks."""
    silence = Audio.silence(session.frame_ms / 1000, session.rate)
    session.settle()
    for _ in range(int(MAX_WAIT_S * 1000 / session.frame_ms)):
        if session.done or not (session.speaking or session.busy):
            return
        tick(session, silence)


def play_turn(session: Session, turn: str | Audio) -> None:
    if isinstance(turn, str):
        session.dtmf(turn[len(DTMF_PREFIX):])
        session.settle()
        return
    heard_before = session.turns_heard
    audio = turn.canonical(session.rate) + Audio.silence(TRAILING_SILENCE_S, session.rate)
    for frame in audio.frames(session.frame_ms):
        tick(session, frame)
        if session.done:
            return
    silence = Audio.silence(session.frame_ms / 1000, session.rate)
    while session.hearing_speech and not session.done:  # a long hang-over (a voicemail message)
        tick(session, silence)
    session.settle()
    if session.turns_heard == heard_before and not session.done:
        session.no_input()  # the caller said nothing during this whole turn
        session.settle()


def stream_call(session: Session, caller: Audio, *, realtime: bool = False, tail_s: float = TAIL_S,
                on_frame: FrameHook | None = None) -> Session:
    """`caller` is the caller's whole side from connect; the bot answers as it would live."""
    ms = session.frame_ms
    pcm = caller.canonical(session.rate)
    frames = list(pcm.frames(ms))
    silence = Audio.silence(ms / 1000, session.rate)
    limit = len(frames) + int(tail_s * 1000 / ms)
    session.start()
    started = time.perf_counter()
    for i in range(limit):
        if session.done or (i >= len(frames) and not (session.speaking or session.busy
                                                       or session.hearing_speech)):
            break  # the caller's side is over and the bot has answered its last turn
        frame = frames[i] if i < len(frames) else silence
        session.push(frame)
        bot = session.read(ms)
        if on_frame is not None:
            on_frame(i, frame, bot)
        if realtime:
            delay = started + (i + 1) * ms / 1000 - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        elif session.busy:
            session.settle()
    session.hangup()
    session.settle()
    return session


def replay_text(session: Session, turns: Sequence[str]) -> Session:
    """Same flow from text (no ASR): "dtmf:1234" presses keys, an empty string is silence."""
    session.start()
    for turn in turns:
        session.settle()
        drain(session)
        if session.done:
            break
        if turn.startswith(DTMF_PREFIX):
            session.dtmf(turn[len(DTMF_PREFIX):])
        elif not turn.strip():
            session.no_input()
        else:
            session.caller_text(turn)
    session.settle()
    drain(session)
    session.hangup()
    session.settle()
    return session


def drain(session: Session) -> None:
    """Play out what the bot still has to say (a text replay's prompts into the recording)."""
    for _ in range(int(MAX_WAIT_S * 1000 / session.frame_ms)):
        if not session.speaking:
            return
        session.read(session.frame_ms)
