"""The energy barge-in detector (`VOICEBOT_BARGE_IN=energy`; the default is Silero, see
pipeline/bargein.py): the caller's own speech, sustained, while the bot plays.

Echo-aware gate: the bot's voice comes back through a speakerphone or a telephone hybrid weaker
than it was played (a line's echo return loss is 10 dB or more; a handset far more). A voiced
caller frame counts as the caller's own speech only when it is louder than the loudest bot frame
of the last `echo_window_ms` (sound-card buffers both ways plus the room's or line's echo path)
lowered by `echo_margin_db`. The bot's prompt fed back at -10 dB stays under a -6 dB gate; a
caller talking over the prompt at a normal level does not — but a caller quieter than the prompt
minus 6 dB never passes either (scripts/eval_session_bargein.py: 4-8 of 18 telephone callers).

Sustained: `min_ms` of own speech, with short gaps tolerated, before the prompt stops. Coughs and
clicks are shorter; backchannels ("mm-hm") may pause the prompt, and the Session resumes it when
the recogniser finds no words in them."""

from __future__ import annotations

from collections import deque

import numpy as np

from voicebot.audio import Audio
from voicebot.pipeline.seams import Heard

QUIET_RMS = 150.0  # about -47 dBFS: line noise, not a voice


def rms(audio: Audio) -> float:
    samples = audio.samples.astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


class SustainedSpeech:
    def __init__(self, frame_ms: int = 30, min_ms: int = 150, echo_margin_db: float = 6.0,
                 echo_window_ms: int = 800) -> None:
        self.frame_ms, self.min_ms = frame_ms, min_ms
        self.echo_gain = 10 ** (-echo_margin_db / 20)
        self._bot: deque[float] = deque(maxlen=max(1, echo_window_ms // frame_ms))
        self._run_ms = 0

    def hear(self, caller: Audio, played: Audio, voiced: bool) -> Heard:
        self._bot.append(rms(played))
        level = rms(caller)
        own = voiced and level > QUIET_RMS and level > self.echo_gain * max(self._bot)
        # one unvoiced frame inside a word (a stop consonant) does not start the count again
        self._run_ms = self._run_ms + self.frame_ms if own else max(0, self._run_ms - self.frame_ms)
        return Heard(own, self._run_ms >= self.min_ms)

    def reset(self) -> None:
        self._run_ms = 0
