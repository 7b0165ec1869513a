"""A simulated echo path for tests and evaluations: what comes back into the caller channel when
the bot plays `far`. Two kinds, both linear and deterministic (seeded):

- `line`: a telephone hybrid's echo — a round-trip delay (default 40 ms) and a short dispersive
  impulse response (~8 ms), as G.168 models it;
- `room`: a loudspeaker heard by the microphone — a few ms of delay and an exponentially decaying
  reverberant tail (RT60 ~200 ms).

`level_db` is the echo's level relative to the far signal (-10 dB: the bot's voice comes back
10 dB quieter, a poor line or a loud speaker)."""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from voicebot.audio.types import Audio

KINDS = ("line", "room")


def impulse_response(rate: int, kind: str = "line", delay_ms: float = 40.0, seed: int = 0) -> np.ndarray:
    """Unit-energy impulse response of the echo path, delay included."""
    if kind not in KINDS:
        raise ValueError(f"echo path kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    tail_ms, rt60_ms = (8.0, 4.0) if kind == "line" else (250.0, 200.0)
    n = max(1, int(rate * tail_ms / 1000))
    t = np.arange(n) / rate
    # -60 dB after rt60: amplitude decays as 10^(-3 t / rt60)
    tail = rng.normal(0, 1, n) * 10 ** (-3 * t / (rt60_ms / 1000))
    if kind == "room":
        tail[0] = 3 * np.abs(tail).max()  # the direct path dominates a loudspeaker's echo
    tail /= np.sqrt(np.sum(tail**2))
    return np.concatenate([np.zeros(int(rate * delay_ms / 1000)), tail])


def echo_of(far: Audio, kind: str = "line", level_db: float = -10.0, delay_ms: float = 40.0,
            seed: int = 0) -> Audio:
    """The echo of `far` (same length and rate) at `level_db` relative to `far`'s own level."""
    x = far.to_mono().to_float().astype(np.float64)
    y = fftconvolve(x, impulse_response(far.rate, kind, delay_ms, seed))[: x.size]
    active = np.abs(x) > 1e-3
    px = np.mean(x[active] ** 2) if active.any() else 0.0
    py = np.mean(y[active] ** 2) if active.any() else 0.0
    if py > 0:
        y *= np.sqrt(px / py * 10 ** (level_db / 10))
    return Audio.from_float(y, far.rate)


def mix(*parts: Audio) -> Audio:
    """Sum of equally long signals at one rate (int16, clipped)."""
    rate = parts[0].rate
    n = max(p.num_samples for p in parts)
    acc = np.zeros(n, dtype=np.float64)
    for p in parts:
        if p.rate != rate:
            raise ValueError(f"mix: rates differ ({p.rate} vs {rate})")
        acc[: p.num_samples] += p.to_float()
    return Audio.from_float(acc, rate)


def place(audio: Audio, at_s: float, total_s: float) -> Audio:
    """`audio` starting `at_s` seconds into silence `total_s` long (cut at the end)."""
    out = np.zeros(int(round(total_s * audio.rate)), dtype=np.int16)
    a = int(round(at_s * audio.rate))
    seg = audio.samples[: max(0, out.size - a)]
    out[a : a + seg.size] = seg
    return Audio(out, audio.rate)
