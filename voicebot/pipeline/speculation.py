"""Speculative recognition at the caller's pauses, for one call (docs/realtime.md "Endpointing").

Two decodes, two clocks:
- EARLY: at SPECULATE_AT_MS of pause on the early clock (`Clocks.quiet_ms`: webrtcvad's pause, or
  its gated quiet when VadConfig.pause_below_db is set) recognition starts while the pause goes
  on. Its result ends the turn before the hang-over only on evidence that the caller has finished:
  the words answer the prompt (`Guess.complete`, decided by TurnRunner.speculate: non-empty, the
  digit count, a clear yes/no or rating, a request the NLU is sure of that does not end
  mid-phrase) AND that pause has reached END_AT_MS for the kind. Its result is used for nothing else.
- STANDARD: when the early decode has not ended the turn, recognition starts again at
  STANDARD_SPECULATE_AT_MS of webrtcvad's own pause on the utterance so far, kept when the caller
  does not go on and ending the turn once it says the words answer the prompt (the rule and audio
  of the endpointing before the early decode), else the hang-over decides. It decodes again even
  when no voiced frame came since the early decode: Whisper's reading depends on the tail after
  the last word, and the early decode's 60 ms tail has come back empty where the standard
  decode's 240 ms heard a clean "what's going on with my account" (docs/asr.md).
So a turn without that evidence is ended exactly as before; only complete answers gain.
Chosen on the development set (scripts/eval_turn_end.py), never on held-out data.

The seam: the Session hands `Speculator.step` a snapshot of its clocks after every frame (and when
a decode finishes between frames) and gets back `EndNow` when the turn ends here; when an
utterance ends, `take` says which decode's result is the turn's. Decodes are launched through the
callable the Session gives (the shared pool); time is counted in samples, never read from the clock
for a decision (the wall clock is only noted for the latency breakdown)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from voicebot.events import Transcript, Understood

SPECULATE_AT_MS = 60
END_AT_MS = {"yesno": 270, "csat": 270, "choice": 270, "digits": 270, "intent": 270, "free": 270}
STANDARD_SPECULATE_AT_MS = 240


@dataclass(frozen=True)
class Guess:
    """What a speculative decode made of the utterance so far. `complete`: the words answer the
    prompt (evidence the caller finished); `understood`: the NLU's reading made on the way, handed
    on so a kept result is not understood twice."""

    transcript: Transcript
    complete: bool
    understood: Understood | None = None
    started: float = 0.0  # time.perf_counter on the worker: for the latency breakdown only
    finished: float = 0.0


@dataclass(frozen=True)
class Clocks:
    """The endpointer's state after the last frame, in samples and ms of call audio."""

    in_speech: bool
    quiet_ms: int  # the early clock: pause since the last sounding frame
    pause_ms: int  # webrtcvad's own pause
    last_sounding: int  # sample count at the last sounding frame (where the early clock restarts)
    last_voiced: int  # ... at webrtcvad's last voiced frame (the standard clock's)


@dataclass(frozen=True)
class Decode:
    """One speculative decode: its future (a Guess), the sample its clock restarts at (a caller
    who goes on moves it and the decode is dropped), the pause at which it started, and when it
    was submitted (time.perf_counter, for the latency breakdown only)."""

    future: Future
    since: int
    at_pause_ms: int
    early: bool
    submitted: float

    @property
    def finished(self) -> bool:
        """Done with a result (not cancelled, not failed)."""
        f = self.future
        return f.done() and not f.cancelled() and f.exception() is None

    @property
    def complete(self) -> bool:
        return self.finished and self.future.result().complete


@dataclass(frozen=True)
class EndNow:
    """The words answer the prompt and the pause is long enough: end the turn now, keeping `decode`."""

    decode: Decode


class Speculator:
    """The early and standard decodes of one call's open utterance. Not thread-safe: the Session
    calls it under its lock."""

    def __init__(self, launch: Callable[[], Future]) -> None:
        self._launch = launch
        self._early: Decode | None = None
        self._standard: Decode | None = None
        self._stale: Future | None = None  # dropped while running: the next decode would queue behind it

    @property
    def pending(self) -> bool:
        """A decode is still running (workers are busy on this call)."""
        return any(d is not None and not d.future.done() for d in (self._early, self._standard))

    def settle(self, timeout: float | None = None) -> None:
        for d in (self._early, self._standard):
            if d is not None:
                d.future.exception(timeout)

    def step(self, c: Clocks, kind: str, hold: bool = False) -> EndNow | None:
        """After a frame: drop decodes the caller spoke past, start one at its pause, and end the
        turn when a complete one allows it. `hold`: no new decision (a barge-in being judged)."""
        self._early = self._went_on(self._early, c.last_sounding)
        self._standard = self._went_on(self._standard, c.last_voiced)
        if not c.in_speech or hold:
            return None
        if self._stale is not None and self._stale.done():
            self._stale = None
        early, standard, stale = self._early, self._standard, self._stale
        if early is None and standard is None and stale is None and c.quiet_ms >= SPECULATE_AT_MS \
                and c.pause_ms < STANDARD_SPECULATE_AT_MS:
            self._early = self._start(c.quiet_ms, c.last_sounding, early=True)
        elif early is not None and early.complete and c.quiet_ms >= END_AT_MS.get(kind, max(END_AT_MS.values())):
            return EndNow(early)
        if (early is not None and (not early.future.done() or early.complete)) or stale is not None:
            return None  # an early decode pending or waiting for END_AT, or a dropped one running
        if standard is None and c.pause_ms >= STANDARD_SPECULATE_AT_MS:
            self._standard = self._start(c.pause_ms, c.last_voiced, early=False)
        elif standard is not None and standard.complete:
            return EndNow(standard)  # the words answer the prompt: no need for the hang-over
        return None

    def take(self, c: Clocks, ended: EndNow | None) -> tuple[Decode | None, int]:
        """The utterance ended (by `ended`, else by the hang-over): the decode whose result is the
        turn's, and the sample its end-of-turn pause is counted from. The others are dropped."""
        standard, self._standard = self._standard, None
        early, self._early = self._early, None
        if ended is not None and ended.decode.early:
            kept, since = ended.decode, c.last_sounding
        else:
            kept, since = _kept(standard, c.last_voiced, early, c.last_sounding), c.last_voiced
        for other in (standard, early):
            if other is not None and other is not kept:
                other.future.cancel()  # its result is not the turn's (running: it finishes unused)
        return kept, since

    def _start(self, pause_ms: int, since: int, early: bool) -> Decode:
        return Decode(self._launch(), since, pause_ms, early, time.perf_counter())

    def _went_on(self, d: Decode | None, since: int) -> Decode | None:
        """Drop a speculative decode when the caller went on speaking after it started."""
        if d is None or d.since == since:
            return d
        if not d.future.cancel():
            self._stale = d.future  # still running: the next decode would only queue behind it
        return None


def _kept(standard: Decode | None, last_voiced: int, early: Decode | None, last_sounding: int) -> Decode | None:
    """The decode a turn ended by the hang-over keeps: the standard one (the audio the recogniser
    always got) when the caller did not go on after it started and it is done; else an early one
    still valid (a live line whose decodes are slower than the pause: it started first), else the
    standard one still running. Replays (settled after every frame) always take the first."""
    standard = standard if standard is not None and standard.since == last_voiced else None
    early = early if early is not None and early.since == last_sounding else None
    if standard is not None and (standard.future.done() or early is None):
        return standard
    return early
