"""One call's caller-side audio path in full duplex: echo cancellation against the bot audio at
the line's rate, then two streaming resamplers to 16 kHz (soxr keeps filter state across frames,
so 8 kHz frames get no edge artefacts): a quick cubic one ("QQ", 0.25 ms of delay) feeding the
barge-in detector, so no buffering stands between the caller and the decision, and a
band-limited one ("MQ") for the endpointer and ASR. Fed 20 ms frames, soxr's band-limited
streams hold back ~65-70 ms of audio whatever their quality (measured: MQ 1100, HQ 1020 samples
at 16 kHz); only the recogniser waits for that.
Measured on telephone scenes (scripts/eval_bargein.py): decisions 115 ms p50 / 140 ms max after
the caller's onset, counted to the end of the frame on which the decision is returned.

    path = DuplexInput(line_rate=8000)                 # per call; "webrtc" canceller by default
    ...on the audio thread, for every transport frame (10/20/30 ms):
    clean16k, barge_in = path.push(near=caller_frame, far=bot_frame_sent_in_same_slot,
                                   bot_speaking=playback_active)
    - clean16k: echo-reduced caller audio at 16 kHz for the endpointer/ASR (a continuous stream;
      a push may return a few samples more or fewer than the frame: the resampler's buffering)
    - barge_in: a BargeIn when the caller talks over the bot — stop playback now; its samples are
      counted at 16 kHz from the first push, and its pre_roll is 16 kHz audio of this same output
      stream ending where the last returned clean16k ended, so the turn's audio is pre_roll
      followed by the clean16k of the pushes after it
    The detector is armed afresh each time `bot_speaking` turns true (a prompt starts or resumes
    after a false barge-in); `new_prompt()` re-arms it explicitly.

`far` is None while nothing is playing. Not thread-safe: one thread per call."""

from __future__ import annotations

import collections

import numpy as np
import soxr

from voicebot.audio.echo import DEFAULT, make_echo_canceller
from voicebot.audio.types import CANONICAL_RATE, Audio
from voicebot.vad.bargein import BargeIn, BargeInConfig, BargeInDetector


class DuplexInput:
    def __init__(self, line_rate: int = 8000, echo: str = DEFAULT,
                 config: BargeInConfig = BargeInConfig()) -> None:
        self.line_rate, self.config = line_rate, config
        self._aec = make_echo_canceller(echo, line_rate)
        same = line_rate == CANONICAL_RATE
        self._up = None if same else soxr.ResampleStream(line_rate, CANONICAL_RATE, 1, dtype="int16", quality="MQ")
        # cubic interpolation only when upsampling: going down it would alias
        fast = "QQ" if line_rate < CANONICAL_RATE else "MQ"
        self._fast = None if same else soxr.ResampleStream(line_rate, CANONICAL_RATE, 1, dtype="int16", quality=fast)
        self.detector = BargeInDetector(config, CANONICAL_RATE)
        self._out: collections.deque[np.ndarray] = collections.deque()  # recent 16 kHz output
        self._out_len = self._out_total = 0
        self._fast_total = 0  # samples fed through the quick resampler
        self._armed_at = 0  # 16 kHz stream index of the detector's sample 0
        self._speaking = False

    def push(self, near: Audio, far: Audio | None = None, bot_speaking: bool = False) -> tuple[Audio, BargeIn | None]:
        if far is None:
            far = Audio(np.zeros(near.num_samples, np.int16), near.rate)
        clean = self._aec.process(near, far)
        wide = clean.samples if self._up is None else np.ascontiguousarray(
            self._up.resample_chunk(clean.samples), dtype=np.int16)
        if bot_speaking and not self._speaking:
            self._arm()
        self._speaking = bot_speaking
        self._remember(wide)
        quick = clean.samples if self._fast is None else np.ascontiguousarray(
            self._fast.resample_chunk(clean.samples), dtype=np.int16)
        self._fast_total += quick.size
        hit = None
        if bot_speaking and quick.size and (raw := self.detector.push(Audio(quick, CANONICAL_RATE))):
            hit = self._at_16k(raw)
        return Audio(wide, CANONICAL_RATE), hit

    def new_prompt(self) -> None:
        """Arm the detector again (playback starting also does this by itself)."""
        self._arm()

    def _arm(self) -> None:
        """Reset the detector; its sample 0 is the quick stream's next sample, which is (within
        its 4-sample delay) the same instant on the 16 kHz output's count: soxr streams are
        sample-aligned with their input."""
        self.detector.reset()
        self._armed_at = self._fast_total

    def _at_16k(self, raw: BargeIn) -> BargeIn:
        """The detector's event with samples at 16 kHz on the output stream's count, and a pre-roll
        cut from that stream (the detector counts from when it was armed)."""
        base = self._armed_at
        data = np.concatenate(list(self._out)) if self._out else np.zeros(0, np.int16)
        first = self._out_total - data.size
        pre = data[max(0, base + raw.pre_roll_start - first) :].copy()
        return BargeIn(base + raw.start_sample, base + raw.fired_sample,
                       self._out_total - pre.size, Audio(pre, CANONICAL_RATE))

    def _remember(self, wide: np.ndarray) -> None:
        keep = (self.config.pre_roll_ms + 3000) * CANONICAL_RATE // 1000
        self._out.append(wide)
        self._out_len += wide.size
        self._out_total += wide.size
        while self._out and self._out_len - self._out[0].size >= keep:
            self._out_len -= self._out.popleft().size
