"""The Session's barge-in detectors, chosen by name (`Stack.barge_in`, `$VOICEBOT_BARGE_IN`):

- "silero" (the default): `SileroBargeIn`, the measured detector of voicebot.vad.bargein (Silero
  VAD v5 + a voicing check) behind the Session's `BargeInDetector` Protocol;
- "energy": `SustainedSpeech` (pipeline/interrupt.py), webrtcvad frames sustained 150 ms through
  an energy echo gate against the last 800 ms played.

Both hear what the Session's echo canceller left of the caller frame (`Stack.echo`,
`$VOICEBOT_ECHO`; the microphone transport turns on "webrtc"). Scores of both on the same scenes
through the Session: scripts/eval_session_bargein.py, docs/realtime.md."""

from __future__ import annotations

import os
from collections.abc import Callable

from voicebot.audio import Audio
from voicebot.errors import VoicebotError
from voicebot.pipeline.interrupt import SustainedSpeech
from voicebot.pipeline.seams import BargeInDetector, Heard
from voicebot.vad import VadConfig
from voicebot.vad.bargein import BargeInConfig
from voicebot.vad.bargein import BargeInDetector as SileroDetector


class SileroBargeIn:
    """One call's Silero barge-in detector, fed every caller frame (at 8 or 16 kHz) so the VAD's
    recurrent state follows the whole call; `reset()` only re-arms it for a new speech run.

    own_speech: the last 32 ms chunk classified was speech to Silero, or the energy gate's verdict
    (`SustainedSpeech`: voiced and louder than any echo of the last 800 ms played could be). The
    Session counts these to drop utterances that were echo or noise; Silero alone is unsure of
    some short words on the line (a flite "four" at p 0.3-0.6 lost a CSAT answer). Only Silero
    decides a barge-in. barge_in: the detector fired on this frame, or fired
    earlier in a speech run that is still going on. The Session builds the turn's audio with the
    endpointer's own pre-roll (VadConfig.pre_roll_ms), which reaches back before Silero's onset: the
    detector decides in ~115 ms, the endpointer opens its utterance later, with its pre-roll."""

    def __init__(self, rate: int = 16000, vad: VadConfig = VadConfig(), config: BargeInConfig | None = None) -> None:
        self._detector = SileroDetector(config or BargeInConfig(pre_roll_ms=vad.pre_roll_ms), rate)
        self._energy = SustainedSpeech(vad.frame_ms)
        self._fired = False

    def hear(self, caller: Audio, played: Audio, voiced: bool) -> Heard:
        fired = self._detector.push(caller) is not None
        self._fired = self._fired or fired
        own = self._energy.hear(caller, played, voiced).own_speech or self._detector.last_speech
        return Heard(own, fired or (self._fired and self._detector.in_run))

    def reset(self) -> None:
        self._detector.rearm()
        self._fired = False


def _energy(rate: int, vad: VadConfig) -> BargeInDetector:
    return SustainedSpeech(vad.frame_ms)


DETECTORS: dict[str, Callable[[int, VadConfig], BargeInDetector]] = {
    "silero": lambda rate, vad: SileroBargeIn(rate, vad),
    "energy": _energy,
}
DEFAULT = "silero"
ENV = "VOICEBOT_BARGE_IN"


def barge_in_setting() -> str:
    """The detector named by $VOICEBOT_BARGE_IN, else the default; checked when a Stack is built."""
    name = os.environ.get(ENV) or DEFAULT
    check_barge_in(name)
    return name


def check_barge_in(name: str) -> None:
    if name not in DETECTORS:
        raise VoicebotError(f"barge-in detector {name!r} (Stack.barge_in / ${ENV}): choose one of "
                            f"{', '.join(sorted(DETECTORS))}")


def make_barge_in(name: str, rate: int, vad: VadConfig) -> BargeInDetector:
    """A fresh detector for one call (each holds that call's running state)."""
    check_barge_in(name)
    return DETECTORS[name](rate, vad)
