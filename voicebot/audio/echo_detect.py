"""Is the bot's own voice on the microphone? Decided by correlating the microphone with what was
played, not by the microphone's level: a caller talking over a prompt is as loud as an echo, but
only the echo is a delayed, filtered copy of the prompt.

Every `HOP_BLOCKS` 10 ms blocks, the last `WINDOW_S` of the microphone (near) is compared with the
reference (far): both low-passed and decimated to 4 kHz (where a loudspeaker's or a line's echo
keeps its shape) and pre-emphasised (a first difference, so two voices do not match on their
shared low frequencies); the echo's delay is the peak of their normalised cross-correlation over
0..`MAX_DELAY_S` (the delays AEC3 itself covers); then, with the reference shifted by it, the
share of the microphone's energy that a linear filter of the reference explains, from Welch
averages over 64 ms pieces (sum |Sxy|^2/Syy over sum Sxx: the energy-weighted coherence). An echo,
even a room's reverberant one whose correlation peak holds only part of its energy, is explained
almost whole; an unrelated voice only by chance (about 1/pieces). It is judged only when both
sides carry sound (a silent microphone or a silent bot says nothing about the echo path), so a
verdict holds until the next judged window.

Measured on renders (the 4 prompts of the evaluations, their echo at -10 dB 70 ms late, 7 callers
1 s into each prompt; tests/test_echo_alignment.py checks a part of it): echo through a line
hybrid 0.82 and through a room (RT60 200 ms) 0.62 at the 1st percentile of judged windows; a
caller over the prompt on a line without echo at most 0.45 (99th percentile 0.26). `ECHO_SHARE`
sits between. Cost: numpy
FFTs over 1.3 s at 4 kHz every 100 ms, ~2 ms each on this machine, on the audio thread."""

from __future__ import annotations

from collections import deque

import numpy as np

from voicebot.audio.echo import BLOCK_MS
from voicebot.audio.fir import lowpass

RATE = 4000  # correlation rate
WINDOW_S = 1.0  # microphone stretch judged at each evaluation
MAX_DELAY_S = 0.3  # echo delays searched
HOP_BLOCKS = 10  # evaluate every 100 ms
SEGMENT = 256  # Welch pieces, 64 ms at 4 kHz: a room's tail beyond that is ~20 dB down
LEAD = 32  # 8 ms of the echo path's response before its correlation peak, kept in the shift
ECHO_SHARE = 0.55  # explained share at or above: the microphone carries the bot's echo
ACTIVE_DBFS = -60.0  # a 10 ms block carrying sound
NEAR_ACTIVE = 0.2  # judged when this share of the window's microphone blocks carry sound
FAR_ACTIVE = 0.2  # ... and this share of the reference's (window and delays)


class EchoCorrelator:
    """Feed aligned 10 ms blocks (`push`); `share` is the last judged figure (None: the last
    window was not judged), `delay_s` its delay, `echo` the last verdict."""

    def __init__(self, rate: int) -> None:
        if rate % RATE:
            raise ValueError(f"echo correlation needs a rate that is a multiple of {RATE} Hz, not {rate}")
        self.rate = rate
        self._factor = rate // RATE
        self._taps = lowpass(8 * self._factor + 1, 0.9 / self._factor)
        span = round((WINDOW_S + MAX_DELAY_S) * 1000) // BLOCK_MS + 1  # + the filter's edge
        self._near: deque[np.ndarray] = deque(maxlen=span)
        self._far: deque[np.ndarray] = deque(maxlen=span)
        self._near_on: deque[bool] = deque(maxlen=round(WINDOW_S * 1000) // BLOCK_MS)
        self._far_on: deque[bool] = deque(maxlen=span)
        self._count = 0
        self.share: float | None = None
        self.delay_s: float | None = None
        self.echo = False

    def push(self, near: np.ndarray, far: np.ndarray) -> None:
        """One 10 ms block of each, aligned as the canceller sees them."""
        self._near.append(near)
        self._far.append(far)
        self._near_on.append(dbfs(near) > ACTIVE_DBFS)
        self._far_on.append(dbfs(far) > ACTIVE_DBFS)
        self._count += 1
        if self._count % HOP_BLOCKS == 0 and len(self._near) == self._near.maxlen:
            self._judge()

    def _judge(self) -> None:
        if (sum(self._near_on) < NEAR_ACTIVE * len(self._near_on)
                or sum(self._far_on) < FAR_ACTIVE * len(self._far_on)):
            self.share = self.delay_s = None
            return  # nothing to compare: the last verdict holds
        n, f = self._prepare(np.concatenate(self._near)), self._prepare(np.concatenate(self._far))
        self.share, self.delay_s = echo_share(n, f)
        self.echo = self.share >= ECHO_SHARE

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        y = np.convolve(x.astype(np.float64), self._taps, mode="same")[:: self._factor]
        return np.diff(y, prepend=y[:1])


def echo_share(near: np.ndarray, far: np.ndarray) -> tuple[float, float]:
    """(share of the last WINDOW_S of `near` a linear filter of `far` explains, the echo's delay
    in s), for equally long 4 kHz arrays ending at the same instant."""
    w, lags = round(WINDOW_S * RATE), round(MAX_DELAY_S * RATE)
    x, y = near[-w:], far[-(w + lags):]
    if y.size < w + lags:
        y = np.pad(y, (w + lags - y.size, 0))
    size = 1 << int(np.ceil(np.log2(y.size + w)))
    c = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)[: lags + 1]
    e = np.concatenate([[0.0], np.cumsum(y * y)])
    energy = (e[w:] - e[:-w])[: lags + 1] * float(x @ x)
    ncc = np.abs(c) / np.sqrt(np.maximum(energy, 1e-3 * energy.max() + 1e-12))
    k = int(np.argmax(ncc))  # y[k:k + w] lines up with x: the echo is lags - k samples late
    start = max(0, k - LEAD)
    return explained(x, y[start : start + w]), (lags - k) / RATE


def explained(x: np.ndarray, y: np.ndarray) -> float:
    """Share of x's energy that a linear (per-frequency) filter of y explains, from Welch averages
    over half-overlapping SEGMENT-long Hann pieces: sum |Sxy|^2 / Syy over sum Sxx."""
    win = np.hanning(SEGMENT)
    starts = range(0, x.size - SEGMENT + 1, SEGMENT // 2)
    xs = np.fft.rfft(np.stack([x[s : s + SEGMENT] * win for s in starts]), axis=1)
    ys = np.fft.rfft(np.stack([y[s : s + SEGMENT] * win for s in starts]), axis=1)
    sxy = (xs * ys.conj()).sum(axis=0)
    syy = (np.abs(ys) ** 2).sum(axis=0)
    sxx = (np.abs(xs) ** 2).sum(axis=0)
    fit = np.abs(sxy) ** 2 / np.maximum(syy, 1e-9 * syy.max() + 1e-12)
    return float(min(fit.sum() / max(sxx.sum(), 1e-12), 1.0))


def dbfs(x: np.ndarray) -> float:
    v = x.astype(np.float32)
    return float(10 * np.log10(float(np.dot(v, v)) / (max(v.size, 1) * 32768.0**2) + 1e-12))
