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

from voicebot.audio.echo_path import echo_of, impulse_response, mix, place
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
    """Run a scene through the pieces of the Session's audio path, the bot speaking throughout:
    20 ms frames, the echo canceller at the line rate against the bot frame read for the same
    slot (pipeline/echo_input.py), the streaming 8 -> 16 kHz resampler (pipeline/framing.py), the
    Silero detector (vad/bargein.py) fed every frame. `decided_sample` is when playback would stop:
    the end of the frame whose push returned the BargeIn (samples at 16 kHz from the scene's
    start) — what latency is measured to."""
    from voicebot.pipeline.echo_input import EchoInput
    from voicebot.pipeline.framing import Resampler
    from voicebot.vad.bargein import BargeInConfig, BargeInDetector

    echo, wide = EchoInput(echo_canceller), Resampler(16000)
    detector = BargeInDetector(config or BargeInConfig())
    size = RATE * frame_ms // 1000
    for i in range(0, scene_.near.num_samples // size * size, size):
        # the bot frame for a slot is read before the slot, its caller frame pushed after it
        echo.played(Audio(scene_.far.samples[i : i + size], RATE))
        clean = echo.cancel(Audio(scene_.near.samples[i : i + size], RATE))
        hit = detector.push(Audio(wide(clean), 16000))
        if hit:
            return Heard(hit, (i + size) * 16000 // RATE)
    return None


class Line:
    """The caller's side of an 8 kHz line, made as the call goes: the echo of exactly what the
    Session has played so far (Piper's renders differ slightly between runs, so the echo cannot
    be prepared from another run), line noise, and an event at a known sample."""

    def __init__(self, gain: float, noise: Audio, event: Audio) -> None:
        self.h = gain * impulse_response(RATE, "line", 40.0, seed=0)
        self.noise, self.event = noise.samples.astype(np.float64), event.samples.astype(np.float64)
        self.played = np.zeros(0)

    def near(self, i: int, size: int) -> Audio:
        """Caller frame `i`; the echo path's 40 ms delay means it depends only on frames < i."""
        x = np.concatenate([self.played, np.zeros(size)])[-(self.h.size + size):]
        echo = np.convolve(x, self.h)[x.size - size : x.size]
        at = slice(i * size, (i + 1) * size)
        return Audio(np.clip(echo + self.noise[at] + self.event[at], -32768, 32767).astype(np.int16), RATE)

    def heard(self, bot: Audio) -> None:
        self.played = np.concatenate([self.played, bot.samples.astype(np.float64)])


def echo_gain(bot: Audio) -> float:
    """The scale that puts the line's echo of `bot` at -10 dB of it (voicebot.audio.echo_path)."""
    raw = np.convolve(bot.samples.astype(np.float64), impulse_response(RATE, "line", 40.0, seed=0))[: bot.num_samples]
    ref = echo_of(bot, "line", -10.0, 40.0, seed=0).samples.astype(np.float64)
    return float(np.sqrt(np.mean(ref**2) / np.mean(raw**2)))


def bot_audio(session, seconds: float = 15.0, frame_ms: int = 20) -> Audio:
    """What a new `session` hands an 8 kHz line while the caller stays silent, until it stops."""
    session.start()
    session.settle()
    out, quiet = [], Audio.silence(frame_ms / 1000, RATE)
    for _ in range(int(seconds * 1000 / frame_ms)):
        session.push(quiet)
        out.append(session.read(frame_ms, RATE).samples)
        if session.busy:
            session.settle()
        if not session.speaking:
            break
    return Audio(np.concatenate(out), RATE)


def run_line(session, line: Line, frame_ms: int = 20, until=None) -> None:
    """Play `line` as the caller side of a new `session` (an 8 kHz line: push a caller frame, read
    a bot frame, let the workers answer), to its end or until `until(session)` is true."""
    session.start()
    session.settle()
    size = RATE * frame_ms // 1000
    for i in range(line.noise.size // size):
        session.push(line.near(i, size))
        if until is not None and until(session):
            return
        line.heard(session.read(frame_ms, RATE))
        if session.busy:
            session.settle()


def first_barge_in(session, line: Line, frame_ms: int = 20) -> int | None:
    """The sample (16 kHz, from the call's start) at which `session` paused its prompt while
    `line` played, or None: the end of the caller frame on which it decided."""
    from voicebot.pipeline.events import BargedIn

    def barged(s) -> BargedIn | None:
        return next((e for e in s.events if isinstance(e, BargedIn)), None)

    run_line(session, line, frame_ms, until=barged)
    hit = barged(session)
    return round(hit.at * 16000) if hit is not None else None
