"""Whisper's log-Mel features of an utterance in a zero-padded window, computed on the speech only.

faster-whisper's `FeatureExtractor` transforms the whole window, but past the utterance the window
holds zeros: those frames' Mel power is exactly 0, so their log-Mel value is the floor Whisper
clamps to (the window's maximum − 8, scaled). Transforming the utterance plus 400 zeros (one STFT
frame of silence either side of its end, so the reflection at the edge is silence too) and filling
the rest with that floor gives the same array (tests/test_asr_features.py: equal, or within
float32 rounding where BLAS sums the filterbank product in another order) for a fraction of the work: a 3 s turn in the 10 s window transforms ~3.4 s instead of 10 s."""

from __future__ import annotations

import numpy as np

HOP = 160  # samples per Mel frame (10 ms at 16 kHz)
N_FFT = 400
LOG_FLOOR = float(np.log10(np.float32(1e-10)))  # Whisper clips Mel power to 1e-10 (float32, as it computes it)


def log_mel(extractor, samples: np.ndarray, frames: int) -> np.ndarray:
    """`extractor(window, padding=0)[:, :frames]` for `samples` zero-padded (or cut) to
    `frames * HOP` samples; `extractor` is a faster_whisper FeatureExtractor (its cached filterbank)."""
    samples = samples[: frames * HOP]
    # enough zeros after the speech that every frame touching it sees the same samples as in the
    # full window, including the end's reflection padding (N_FFT // 2 samples)
    head_frames = min(frames, -(-(samples.shape[0] + N_FFT) // HOP))
    head = np.zeros(head_frames * HOP, dtype=np.float32)
    head[: samples.shape[0]] = samples
    spec = extractor.stft(head, N_FFT, HOP, window=_window(), return_complex=True).astype("complex64")
    power = np.abs(spec[..., :-1]) ** 2
    log_spec = np.log10(np.clip(_mel(extractor.mel_filters, power), a_min=1e-10, a_max=None))
    peak = log_spec.max() if head_frames == frames else max(float(log_spec.max()), LOG_FLOOR)
    out = np.full((log_spec.shape[0], frames), max(LOG_FLOOR, peak - 8.0), dtype=log_spec.dtype)
    out[:, :head_frames] = np.maximum(log_spec, peak - 8.0)
    return (out + 4.0) / 4.0


def _mel(filters: np.ndarray, power: np.ndarray) -> np.ndarray:
    """`filters @ power`, one filter's band at a time: each Mel filter covers a few FFT bins (391
    of 16,080 weights are non-zero), and the dense product is a multithreaded BLAS call that, on
    2 busy cores, spun ~15 ms of CPU waiting for its second thread (0.2 ms by bands)."""
    out = np.empty((filters.shape[0], power.shape[1]), dtype=np.result_type(filters, power))
    for i, (lo, hi) in enumerate(_bands(filters)):
        out[i] = filters[i, lo:hi] @ power[lo:hi]
    return out


_BANDS: dict[int, tuple[np.ndarray, list[tuple[int, int]]]] = {}


def _bands(filters: np.ndarray) -> list[tuple[int, int]]:
    """The non-zero bins [lo, hi) of every filter, computed once per filterbank."""
    cached = _BANDS.get(id(filters))
    if cached is None or cached[0] is not filters:
        nonzero = filters != 0
        lo = nonzero.argmax(axis=1)
        hi = filters.shape[1] - nonzero[:, ::-1].argmax(axis=1)
        cached = _BANDS[id(filters)] = (filters, [(int(a), int(max(a, b))) for a, b in zip(lo, hi)])
    return cached[1]


_HANN: list[np.ndarray] = []


def _window() -> np.ndarray:
    if not _HANN:  # as faster-whisper computes it on every call
        _HANN.append(np.hanning(N_FFT + 1)[:-1].astype("float32"))
    return _HANN[0]
