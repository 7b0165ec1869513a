"""The two FIR pieces the live audio path needs, on numpy alone: a windowed-sinc low-pass and
running it frame by frame with its state kept. They compute what `scipy.signal.firwin(numtaps,
cutoff)` (Hamming window, unit gain at DC) and `scipy.signal.lfilter(taps, 1.0, x, zi=zi)` compute,
bit for bit (the same numpy operations in the same order), without importing scipy.signal: that
import pulls scipy.stats and scipy.interpolate and held the GIL ~0.6 CPU s of every process start
(tests/test_bench_coldstart.py checks the results are identical to scipy's)."""

from __future__ import annotations

import numpy as np


def lowpass(numtaps: int, cutoff: float) -> np.ndarray:
    """Taps of a linear-phase low-pass cutting at `cutoff` × Nyquist (0 < cutoff < 1): an ideal
    sinc response under a symmetric Hamming window, scaled to unit gain at DC."""
    if not 0 < cutoff < 1:
        raise ValueError(f"low-pass cutoff {cutoff} must lie between 0 and 1 (× Nyquist)")
    m = np.arange(0, numtaps, dtype=np.float64) - 0.5 * (numtaps - 1)
    right = np.float64(cutoff)
    h = right * np.sinc(right * m)
    # symmetric Hamming window as scipy's general_cosine builds it: 0.54 + 0.46 cos(x), x in [-pi, pi]
    fac = np.linspace(-np.pi, np.pi, numtaps, dtype=np.float64)
    window = np.zeros(numtaps, dtype=np.float64)
    for k, a in enumerate(np.asarray([0.54, 1.0 - 0.54], dtype=np.float64)):
        window += a * np.cos(k * fac)
    h *= window
    return h / np.sum(h)


def fir_step(taps: np.ndarray, x: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Filter one frame `x` (float64) carrying `state` (len(taps) - 1 values) from the frame before;
    returns the output frame and the state for the next one."""
    if x.shape[0] == 0:
        return x.copy(), state
    full = np.convolve(taps, x)
    full[: state.shape[0]] += state
    return full[: x.shape[0]], full[x.shape[0]:]
