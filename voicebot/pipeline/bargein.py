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
    """One call's Silero barge-in detector behind the Session's `BargeInDetector` Protocol.

    CPU: the neural VAD runs only where a barge-in can be decided against echo. While no bot
    audio was played for `hold_ms` (the caller's own turns, the silence between them), there is no
    echo to tell apart: the energy gate's verdict is the caller's own speech and nothing barges
    in. While the bot plays (and for `hold_ms` after, the line's and sound card's echo tail),
    a 32 ms chunk goes through Silero only when the endpointer's webrtcvad found voice in this or
    the previous frame (or a speech run is open) and the chunk is louder than the detector's
    min_level_dbfs; a silent caller costs no inference (scripts/eval_session_bargein.py --cpu).
    `gate=False` runs Silero on every frame of the call (the figures it is measured against).

    own_speech: the last 32 ms chunk classified was speech to Silero, or the energy gate's verdict
    (`SustainedSpeech`: voiced and louder than any echo of the last 800 ms played could be). The
    Session counts these to drop utterances that were echo or noise; Silero alone is unsure of
    some short words on the line (a flite "four" at p 0.3-0.6 lost a CSAT answer). Only Silero
    decides a barge-in. barge_in: the detector fired on this frame, or fired
    earlier in a speech run that is still going on. The Session builds the turn's audio with the
    endpointer's own pre-roll (VadConfig.pre_roll_ms), which reaches back before Silero's onset: the
    detector decides in ~115 ms, the endpointer opens its utterance later, with its pre-roll."""

    def __init__(self, rate: int = 16000, vad: VadConfig = VadConfig(), config: BargeInConfig | None = None,
                 gate: bool = True, hold_ms: int = 2000) -> None:
        self._detector = SileroDetector(config or BargeInConfig(pre_roll_ms=vad.pre_roll_ms), rate)
        self._energy = SustainedSpeech(vad.frame_ms)
        self._fired = False
        self._detector.precheck = self._gate = gate
        self._hold_ms = hold_ms
        self._quiet_ms = hold_ms  # time since the bot last played a non-silent frame
        self._was_voiced = False
        self._active = False  # Silero heard the last frame

    def hear(self, caller: Audio, played: Audio, voiced: bool) -> Heard:
        energy = self._energy.hear(caller, played, voiced)
        self._quiet_ms = 0 if played.samples.any() else self._quiet_ms + caller.num_samples * 1000 // caller.rate
        if self._gate and self._quiet_ms >= self._hold_ms:
            if self._active:
                self._detector.reset()  # the next prompt starts a fresh stream
                self._active = self._fired = False
            return Heard(energy.own_speech, False)
        self._active = True
        listen = not self._gate or voiced or self._was_voiced
        self._was_voiced = voiced
        fired = self._detector.push(caller, listen) is not None
        self._fired = self._fired or fired
        own = energy.own_speech or self._detector.last_speech
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


def warm_audio_path(name: str) -> None:
    """Load now what a call's first frames would otherwise load on its audio path: for "silero",
    the shared ONNX session. (The streaming resamplers' filters, pipeline/framing.py, run on numpy
    alone, voicebot/audio/fir.py: importing scipy.signal for them took 7 s on a loaded machine;
    done on a SIP worker's first call it held the GIL while Kamailio's 4 s timer ran out on the
    INVITEs behind it, and done here it cost every start ~0.6 CPU s.)"""
    if name == "silero":
        from voicebot.vad.silero import SILERO_MODEL, onnx_session

        onnx_session(SILERO_MODEL)


def make_barge_in(name: str, rate: int, vad: VadConfig) -> BargeInDetector:
    """A fresh detector for one call (each holds that call's running state)."""
    check_barge_in(name)
    return DETECTORS[name](rate, vad)
