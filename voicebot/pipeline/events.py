"""What the Session itself reports beside the stages' events (voicebot.events): barge-in and
resumption, a stage that failed, and each turn's timing for the latency benchmark."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BargedIn:
    """Caller speech paused the prompt at `at` seconds of call time."""

    at: float


@dataclass(frozen=True)
class Resumed:
    """What paused the prompt was not a turn (a cough, "mm-hm"): the prompt goes on where it stopped."""

    at: float
    heard: str = ""


@dataclass(frozen=True)
class Interrupted:
    """The caller's turn (words, or DTMF) stopped the prompt for good after `played_ms`."""

    at: float
    played_ms: int
    by: str  # speech | dtmf


@dataclass(frozen=True)
class TurnTiming:
    """One caller turn through the workers, in milliseconds. `endpoint_ms`: from the last voiced
    frame to the turn's end decision (call time); the rest are worker wall time. `speculative`:
    the recogniser's result from a pause was kept (the caller did not go on); `ended_by` and the
    `decode_*` fields say which decode ended the turn and when it ran. The
    `*_at` marks (time.perf_counter seconds) let a benchmark account for every millisecond of a
    turn: the audio path closed the turn, a worker picked it up, its first audio was queued."""

    at: float
    endpoint_ms: int
    asr_ms: float
    nlu_ms: float
    flow_ms: float
    tts_first_ms: float
    speculative: bool = False
    ended_at: float = 0.0
    picked_at: float = 0.0
    queued_at: float = 0.0
    ended_by: str = ""  # early decode | standard decode | hang-over[, decode running] | cut
    decode_at_pause_ms: int = -1  # the kept decode started at this pause (-1: none kept)
    decode_wait_ms: float = 0.0  # ... waited this long for a worker (the decoder's queue is in decode_ms)
    decode_ms: float = 0.0  # ... recognised (and understood) in this long


@dataclass(frozen=True)
class StageFailed:
    """A model raised mid-call (asr, nlu, tts). The call goes on: a failed recognition or
    understanding is a no-match (the flow re-asks), a failed prompt is skipped; counted in /metrics."""

    stage: str
    error: str
