"""Caller audio as it arrives on a live line, turned into what the VAD needs: mono int16 at the
session rate, in frames of exactly the VAD's length, whatever size and rate the transport delivers.

One streaming resampler per call and direction (soxr.ResampleStream) keeps the filter's state from
one packet to the next; resampling each 20 ms packet alone rings at every packet edge (audible on
8 kHz telephone input, and enough to fool the VAD)."""

from __future__ import annotations

import numpy as np
import soxr

from voicebot.audio import Audio


class Resampler:
    """A streaming resampler that follows the input's rate (rebuilt if a transport changes it)."""

    def __init__(self, out_rate: int) -> None:
        self.out_rate = out_rate
        self._in_rate: int | None = None
        self._stream: soxr.ResampleStream | None = None

    def __call__(self, audio: Audio) -> np.ndarray:
        mono = audio.to_mono()
        if mono.rate == self.out_rate:
            return mono.samples
        if mono.rate != self._in_rate:
            self._in_rate = mono.rate
            self._stream = soxr.ResampleStream(mono.rate, self.out_rate, 1, dtype="int16", quality="HQ")
        return self._stream.resample_chunk(mono.samples)


class FrameBuffer:
    """push(any Audio) → complete frames of `frame_ms` at `rate`; the remainder waits for more."""

    def __init__(self, rate: int, frame_ms: int) -> None:
        self.rate, self.size = rate, rate * frame_ms // 1000
        self._resample = Resampler(rate)
        self._pending = np.zeros(0, np.int16)

    def push(self, audio: Audio) -> list[Audio]:
        samples = self._resample(audio)
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        whole = data.shape[0] // self.size * self.size
        self._pending = data[whole:].copy()
        return [Audio(np.ascontiguousarray(data[i:i + self.size]), self.rate)
                for i in range(0, whole, self.size)]
