"""Caller audio as it arrives on a live line, turned into what the VAD needs: mono int16 at the
session rate, in frames of exactly the VAD's length, whatever size and rate the transport delivers.

One streaming resampler per call and direction (soxr.ResampleStream) keeps the filter's state from
one packet to the next; resampling each 20 ms packet alone rings at every packet edge (audible on
8 kHz telephone input, and enough to fool the VAD)."""

from __future__ import annotations

import numpy as np
import soxr

from voicebot.audio import Audio
from voicebot.audio.fir import fir_step, lowpass


class IntegerResampler:
    """Streaming FIR resampling by an integer factor (8 <-> 16 kHz, 16 <-> 48 kHz): a windowed-sinc
    low-pass (cut at 0.45 of the lower rate) run with its state kept across frames, so every frame
    comes out at once, ~3 ms late. soxr's streams release their output in ~100 ms bursts when fed
    20 ms frames (measured: 8->16 kHz HQ holds back 60 ms on average, 112 ms at worst), which put
    every caller frame of an 8 kHz line — and so the barge-in decision — up to 100 ms late."""

    TAPS_PER_PHASE = 24

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.up = max(1, out_rate // in_rate)
        self.down = max(1, in_rate // out_rate)
        factor = self.up * self.down  # one of them is 1
        taps = self.TAPS_PER_PHASE * factor + 1
        self._h = lowpass(taps, 0.9 / factor) * self.up  # zero-stuffing divides the level by `up`
        self._zi = np.zeros(taps - 1)
        self._phase = 0  # decimation: index of the next kept sample within the filtered stream

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        x = samples.astype(np.float64)
        if self.up > 1:
            stuffed = np.zeros(x.shape[0] * self.up)
            stuffed[:: self.up] = x
            x = stuffed
        y, self._zi = fir_step(self._h, x, self._zi)
        if self.down > 1:
            y, self._phase = y[self._phase :: self.down], (self._phase - x.shape[0]) % self.down
        return np.clip(np.round(y), -32768, 32767).astype(np.int16)


class Resampler:
    """A streaming resampler that follows the input's rate (rebuilt if a transport changes it):
    by an integer factor with `IntegerResampler` (no bursts), otherwise with soxr."""

    def __init__(self, out_rate: int) -> None:
        self.out_rate = out_rate
        self._in_rate: int | None = None
        self._stream = None  # IntegerResampler, or a soxr stream's resample_chunk

    def __call__(self, audio: Audio) -> np.ndarray:
        mono = audio.to_mono()
        if mono.rate == self.out_rate:
            return mono.samples
        if mono.rate != self._in_rate:
            self._in_rate = mono.rate
            integer = max(mono.rate, self.out_rate) % min(mono.rate, self.out_rate) == 0
            self._stream = IntegerResampler(mono.rate, self.out_rate) if integer else \
                soxr.ResampleStream(mono.rate, self.out_rate, 1, dtype="int16", quality="HQ").resample_chunk
        return self._stream(mono.samples)


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


class ExactResampler:
    """Bot audio for a transport at its own rate, exactly the samples each read asks for: soxr
    holds back its filter delay at the start (and a sample now and then), and a 20 ms RTP frame
    or a sound-card block must be whole, or the line's time and the echo canceller's reference
    drift apart. A shortfall is silence in front (the filter's delay); a surplus waits."""

    def __init__(self, out_rate: int) -> None:
        self._resample = Resampler(out_rate)
        self._pending = np.zeros(0, np.int16)

    def __call__(self, audio: Audio, n: int) -> np.ndarray:
        data = np.concatenate([self._pending, self._resample(audio)])
        if data.shape[0] < n:
            data = np.pad(data, (n - data.shape[0], 0))
        self._pending = data[n:].copy()
        return np.ascontiguousarray(data[:n], np.int16)
