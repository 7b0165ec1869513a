"""The short-time Fourier transform pair and 3x3 mean filter that noise suppression uses, as
`scipy.signal.stft`/`istft` (Hann window, zero boundary, padded, "spectrum" scaling) and
`scipy.ndimage.uniform_filter(size=3)` compute them, bit for bit, on `scipy.fft` alone: importing
scipy.signal pulls scipy.stats and costs ~1 s of every process start, scipy.ndimage ~0.25 s.
tests/test_bench_coldstart.py checks the results are identical to scipy's."""

from __future__ import annotations

import numpy as np
import scipy.fft as sp_fft


def hann(m: int) -> np.ndarray:
    """Periodic Hann window, computed as scipy.signal.get_window("hann", m) does."""
    fac = np.linspace(-np.pi, np.pi, m + 1)
    w = np.zeros(m + 1)
    for k, a in enumerate((0.5, 0.5)):
        w += a * np.cos(k * fac)
    return w[:-1]


def stft(x: np.ndarray, nperseg: int, hop: int) -> np.ndarray:
    """Complex spectrum, frequencies × frames (dtype follows scipy: complex64 for float32 input)."""
    outdtype = np.result_type(x, np.complex64)
    half = nperseg // 2
    x = np.concatenate((np.zeros(half, x.dtype), x, np.zeros(half, x.dtype)))
    x = np.concatenate((x, np.zeros((-(x.shape[-1] - nperseg) % hop) % nperseg)))
    win = hann(nperseg)
    if np.result_type(win, np.complex64) != outdtype:
        win = win.astype(outdtype)
    segments = np.lib.stride_tricks.sliding_window_view(x, nperseg)[::hop]
    spec = sp_fft.rfft((win * segments).real, n=nperseg)
    spec *= np.sqrt(1.0 / win.sum() ** 2)
    return spec.astype(outdtype).T


def istft(spec: np.ndarray, nperseg: int, hop: int) -> np.ndarray:
    """Overlap-add inverse of `stft`."""
    spec = np.asarray(spec) + 0j
    frames = spec.shape[1]
    parts = sp_fft.irfft(spec, axis=-2, n=nperseg)[:nperseg, :]
    length = nperseg + (frames - 1) * hop
    x = np.zeros(length, dtype=parts.dtype)
    norm = np.zeros(length, dtype=parts.dtype)
    win = hann(nperseg)
    if np.result_type(win, parts) != parts.dtype:
        win = win.astype(parts.dtype)
    parts *= win.sum()
    _overlap_add(x, (parts * win[:, None]).T, hop)
    _overlap_add(norm, np.broadcast_to(win ** 2, (frames, nperseg)), hop)
    half = nperseg // 2
    x, norm = x[half:-half], norm[half:-half]
    x /= np.where(norm > 1e-10, norm, 1.0)
    return x.real


def _overlap_add(out: np.ndarray, frames: np.ndarray, hop: int) -> None:
    """`out[i*hop : i*hop + n] += frames[i]` for every frame i in order, as whole-array adds: with
    n a multiple of hop, each hop-long block of `out` gets the frames' pieces in the same order as
    the frame-by-frame loop (so the same float sums), ~2 ms less per caller turn."""
    count, n = frames.shape
    if n % hop:
        for i in range(count):
            out[i * hop:i * hop + n] += frames[i]
        return
    pieces = n // hop
    blocks = out[:(count - 1 + pieces) * hop].reshape(-1, hop)
    for q in reversed(range(pieces)):  # block j gets frame j-q's q-th piece; older frames first
        blocks[q:q + count] += frames[:, q * hop:(q + 1) * hop]


def mean3x3(a: np.ndarray) -> np.ndarray:
    """3x3 moving mean with mirrored edges (ndimage's "reflect" is numpy's "symmetric")."""
    for axis in (0, 1):
        padded = np.pad(a, [(1, 1) if ax == axis else (0, 0) for ax in (0, 1)], mode="symmetric")
        view = [slice(None), slice(None)]
        parts = []
        for offset in range(3):
            view[axis] = slice(offset, offset + a.shape[axis])
            parts.append(padded[tuple(view)])
        a = ((parts[0].astype(np.float64) + parts[1] + parts[2]) / 3).astype(a.dtype)
    return a
