"""Caller-channel scenes for barge-in tests and evaluations: what a telephone line (8 kHz) carries
back while the bot plays a prompt — the prompt's echo, the line's noise, and the caller's speech or
a non-speech sound (noise burst, cough-like burst, click) starting at a known sample.

The prompt is rendered by Piper (the bot's voice); callers by flite/espeak voices through
speechgen's quiet telephone channel, so the caller's true speech onset is measured on a render
without noise (first 10 ms frame within 35 dB of the loudest), in samples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from voicebot.audio.echo_path import echo_of, mix, place
from voicebot.audio.types import Audio
from voicebot.audio.wavio import read_wav
from voicebot.vad.bargein import BargeIn
from voicebot.speechgen import TELEPHONE_QUIET, speak

RATE = 8000
LINE_NOISE_DBFS = -50.0  # a quiet line; callers speak at about -25 dBFS (SNR ~25 dB)
# prompts the bot plays in the evaluations (scripts/eval_echo.py, scripts/eval_bargein.py)
PROMPTS = [
    "Welcome to Demo Bank. Please tell me in a few words what you are calling about today.",
    "For security, please say or key in your eight digit customer number, one digit at a time.",
    "Our branches are open from nine to five on weekdays and from ten to one on Saturdays.",
]
# callers who talk over them: (words, voice); never the bot's own Piper voice
CALLERS = [("I lost my card yesterday", "flite:slt"), ("what is my balance", "espeak:en-us"),
           ("I want to talk to an agent", "flite:rms"), ("no I need to report fraud", "flite:kal"),
           ("sorry can you repeat that", "espeak:en-gb"), ("my card was stolen", "flite:awb")]


@dataclass(frozen=True)
class Scene:
    near: Audio  # what arrives from the caller's side (echo + noise + caller event)
    far: Audio  # the prompt being played, same rate and length
    onset_sample: int | None  # true start of caller speech in `near` (None: no speech in it)


def prompt_audio(text: str) -> Audio:
    return read_wav(speak(text, "piper")).canonical(RATE)


def caller_audio(text: str, voice: str) -> tuple[Audio, int]:
    """A caller utterance at the line rate and the sample where its speech starts."""
    audio = read_wav(speak(text, voice, TELEPHONE_QUIET)).canonical(RATE)
    return audio, speech_onset(audio)


def speech_onset(audio: Audio, below_peak_db: float = 35.0) -> int:
    x = audio.to_float().astype(np.float64)
    hop = audio.rate // 100
    energy = np.array([np.mean(x[i : i + hop] ** 2) for i in range(0, x.size - hop + 1, hop)])
    loud = np.flatnonzero(energy > energy.max() * 10 ** (-below_peak_db / 10))
    return int(loud[0] * hop) if loud.size else 0


def line_noise(n: int, seed: int, dbfs: float = LINE_NOISE_DBFS) -> Audio:
    noise = np.random.default_rng(seed).normal(0, 1, n)
    noise = sosfilt(butter(4, [300, 3400], "bandpass", fs=RATE, output="sos"), noise)
    noise *= 10 ** (dbfs / 20) / (noise.std() + 1e-12)
    return Audio.from_float(noise, RATE)


def burst(kind: str, ms: float, seed: int = 0, dbfs: float = -20.0) -> Audio:
    """A non-speech sound as loud as speech: 'noise' (white), 'pink' (1/f noise: rumble, wind,
    rustling), 'cough' (band-passed noise with a
    sharp attack and a decaying tail, like a cough's spectrum and envelope), 'click' (a few
    impulses, ms is ignored beyond 5 ms)."""
    rng = np.random.default_rng(seed)
    n = int(RATE * ms / 1000)
    if kind == "click":
        x = np.zeros(int(RATE * 0.005))
        x[:: max(1, x.size // 3)] = 0.9
        return Audio.from_float(x, RATE)
    x = rng.normal(0, 1, n)
    if kind == "cough":
        x = sosfilt(butter(2, [400, 2500], "bandpass", fs=RATE, output="sos"), x)
        t = np.arange(n) / RATE
        x *= np.minimum(1.0, t / 0.01) * np.exp(-t / (ms / 1000 / 3))
    elif kind == "pink":
        spectrum = np.fft.rfft(x)
        spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
        x = np.fft.irfft(spectrum, n)
    elif kind != "noise":
        raise ValueError(f"burst kind must be noise, pink, cough or click, got {kind!r}")
    x *= 10 ** (dbfs / 20) / (np.sqrt(np.mean(x**2)) + 1e-12)
    return Audio.from_float(x, RATE)


def scene(prompt: str, event: Audio | None, at_s: float = 1.0, onset_in_event: int | None = None,
          echo_db: float = -10.0, echo_kind: str = "line", seed: int = 0) -> Scene:
    """The near end while `prompt` plays: its echo at `echo_db`, line noise, and `event` starting
    `at_s` seconds into the prompt (None: echo and noise only)."""
    far = prompt_audio(prompt)
    parts = [echo_of(far, echo_kind, echo_db, 40.0 if echo_kind == "line" else 5.0, seed),
             line_noise(far.num_samples, seed + 1)]
    onset = None
    if event is not None:
        parts.append(place(event, at_s, far.duration))
        if onset_in_event is not None:
            onset = int(round(at_s * RATE)) + onset_in_event
    return Scene(mix(*parts), far, onset)


@dataclass(frozen=True)
class Heard:
    barge_in: BargeIn
    decided_sample: int  # 16 kHz count of the line input pushed when the BargeIn came back


def barge_in_on(scene_: Scene, echo_canceller: str = "webrtc", config=None, frame_ms: int = 20) -> Heard | None:
    """Run a scene through the audio path a call uses (voicebot.vad.duplex.DuplexInput: 20 ms
    frames, echo canceller at the line rate, resamplers, detector, the bot speaking throughout).
    `decided_sample` is when playback would stop: the end of the frame whose push returned the
    BargeIn (samples at 16 kHz from the scene's start) — what latency is measured to."""
    from voicebot.vad.bargein import BargeInConfig
    from voicebot.vad.duplex import DuplexInput

    path = DuplexInput(RATE, echo_canceller, config or BargeInConfig())
    size = RATE * frame_ms // 1000
    for i in range(0, scene_.near.num_samples // size * size, size):
        near = Audio(scene_.near.samples[i : i + size], RATE)
        _, hit = path.push(near, Audio(scene_.far.samples[i : i + size], RATE), bot_speaking=True)
        if hit:
            return Heard(hit, (i + size) * 16000 // RATE)
    return None
