"""The one audio type of the pipeline: samples plus rate, width and channels (as in Wyoming)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import soxr

CANONICAL_RATE = 16000  # what VAD, ASR and NLU see: 16 kHz mono int16


@dataclass(frozen=True, eq=False)
class Audio:
    """PCM audio. `samples` is int16, shape (n,) for mono or (n, channels)."""

    samples: np.ndarray
    rate: int
    channels: int = 1
    width: int = 2  # bytes per sample; the pipeline works in int16 throughout

    def __post_init__(self) -> None:
        if self.samples.dtype != np.int16:
            raise TypeError(f"Audio samples must be int16, got {self.samples.dtype}")
        # A wrong rate or channel count would silently play audio at the wrong speed or pitch.
        if not 0 < self.rate <= 384_000:
            raise ValueError(f"Audio rate must be 1..384000 Hz, got {self.rate}")
        shape_channels = 1 if self.samples.ndim == 1 else self.samples.shape[1]
        if self.samples.ndim > 2 or shape_channels != self.channels or self.channels < 1:
            raise ValueError(f"Audio samples of shape {self.samples.shape} do not hold "
                             f"{self.channels} channel(s)")

    @classmethod
    def from_float(cls, data: np.ndarray, rate: int) -> Audio:
        """Float samples in [-1, 1] (mono (n,) or (n, ch)) → int16 Audio, clipped."""
        data = np.asarray(data, dtype=np.float32)
        pcm = (np.clip(data, -1.0, 1.0) * 32767.0).round().astype(np.int16)
        return cls(pcm, rate, 1 if pcm.ndim == 1 else pcm.shape[1])

    @classmethod
    def from_bytes(cls, pcm: bytes, rate: int, channels: int = 1) -> Audio:
        samples = np.frombuffer(pcm, dtype="<i2").copy()
        if channels > 1:
            samples = samples.reshape(-1, channels)
        return cls(samples, rate, channels)

    @classmethod
    def silence(cls, seconds: float, rate: int = CANONICAL_RATE) -> Audio:
        return cls(np.zeros(int(round(seconds * rate)), dtype=np.int16), rate)

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.num_samples / float(self.rate)

    def to_bytes(self) -> bytes:
        return self.samples.astype("<i2").tobytes()

    def to_float(self) -> np.ndarray:
        return self.samples.astype(np.float32) / 32768.0

    def to_mono(self) -> Audio:
        if self.channels == 1:
            return self
        mixed = self.samples.astype(np.int32).mean(axis=1)
        return Audio(mixed.round().astype(np.int16), self.rate, 1)

    def resample(self, rate: int) -> Audio:
        """Band-limited resampling with soxr (high quality, no hand-rolled interpolation)."""
        if rate == self.rate or self.num_samples == 0:
            return Audio(self.samples, rate, self.channels) if self.num_samples == 0 else self
        out = soxr.resample(self.samples, self.rate, rate, quality="HQ")
        return Audio(np.ascontiguousarray(out, dtype=np.int16), rate, self.channels)

    def canonical(self, rate: int = CANONICAL_RATE) -> Audio:
        """Mono int16 at the pipeline rate."""
        return self.to_mono().resample(rate)

    def __add__(self, other: Audio) -> Audio:
        if (other.rate, other.channels) != (self.rate, self.channels):
            other = other.to_mono().resample(self.rate) if self.channels == 1 else other
        return Audio(np.concatenate([self.samples, other.samples]), self.rate, self.channels)

    def slice(self, start_s: float, end_s: float) -> Audio:
        a, b = int(start_s * self.rate), int(end_s * self.rate)
        return Audio(self.samples[max(a, 0) : max(b, 0)], self.rate, self.channels)

    def frames(self, ms: int = 20) -> Iterator[Audio]:
        """Consecutive frames of `ms` milliseconds (10/20/30 for webrtcvad); the tail is padded."""
        if ms not in (10, 20, 30):
            raise ValueError(f"frame length must be 10, 20 or 30 ms, got {ms}")
        size = self.rate * ms // 1000
        for start in range(0, self.num_samples, size):
            chunk = self.samples[start : start + size]
            if chunk.shape[0] < size:
                pad = [(0, size - chunk.shape[0])] + [(0, 0)] * (chunk.ndim - 1)
                chunk = np.pad(chunk, pad)
            yield Audio(chunk, self.rate, self.channels)
