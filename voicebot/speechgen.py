"""Caller speech for tests and benchmarks: text voiced by Piper, flite or espeak-ng, optionally
degraded to a telephone line (300–3400 Hz, 8 kHz, μ-law, noise at a given SNR) with sox.
Renders are cached on disk by (voice, text, channel) so a test session synthesizes each once."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.audio.types import Audio
from voicebot.audio.wavio import read_wav, write_wav
from voicebot.cache import cache_dir as shared_cache_dir
from voicebot.errors import VoicebotError

# voice name → how to render it. "piper" is the neural voice; flite/espeak voices are robotic.
FLITE_VOICES = ("kal", "slt", "rms", "awb")
ESPEAK_VOICES = ("en-us", "en-us+f3", "en+m3", "en-gb")
VOICES = ("piper",) + tuple(f"flite:{v}" for v in FLITE_VOICES) + tuple(f"espeak:{v}" for v in ESPEAK_VOICES)


@dataclass(frozen=True)
class Channel:
    """How the caller's audio reaches us. `clean` is a 16 kHz studio render."""

    name: str = "clean"
    rate: int = 16000
    band: tuple[int, int] | None = None
    snr_db: float | None = None
    encoding: str = "PCM_16"  # or ULAW / ALAW

    def key(self) -> str:
        return f"{self.name}-{self.rate}-{self.band}-{self.snr_db}-{self.encoding}"


RENDER_VERSION = 3  # bump when renders change, so cached files are not reused
CLEAN = Channel()
TELEPHONE = Channel("telephone", 8000, (300, 3400), 15.0, "ULAW")
TELEPHONE_QUIET = Channel("telephone-quiet", 8000, (300, 3400), None, "ULAW")


def cache_dir() -> Path:
    return shared_cache_dir("speech")


def speak(text: str, voice: str = "piper", channel: Channel = CLEAN) -> Path:
    """Path to a cached WAV of `text` in `voice` through `channel`."""
    digest = hashlib.sha1(f"{RENDER_VERSION}|{voice}|{text}|{channel.key()}".encode()).hexdigest()[:16]
    out = cache_dir() / f"{digest}.wav"
    if not out.exists():
        clean = _render(text, voice)
        audio = degrade(clean, channel, seed=int(digest[:8], 16))
        # write_wav is atomic (a temporary name per process, then a rename): parallel test
        # workers rendering the same turn never read half a file nor rename each other's
        write_wav(out, audio, subtype=channel.encoding)
    return out


def degrade(audio: Audio, channel: Channel, seed: int = 0) -> Audio:
    """Band-limit and resample with sox, then add white noise at the channel's SNR."""
    if channel.band is None and channel.rate == audio.rate and channel.snr_db is None:
        return audio
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        write_wav(src, audio)
        effects = ["rate", "-v", str(channel.rate)]
        if channel.band:
            effects += ["sinc", f"{channel.band[0]}-{channel.band[1]}"]
        # -R: repeatable dither, so a fresh render (CI) is bit-identical to the one tested here
        _run(["sox", "-R", "-G", str(src), "-c", "1", str(dst), *effects])
        out = read_wav(dst)
    if channel.snr_db is None:
        return out
    signal = out.to_float().astype(np.float64)
    power = np.mean(signal[np.abs(signal) > 1e-3] ** 2) if np.any(np.abs(signal) > 1e-3) else 1e-6
    noise = np.random.default_rng(seed).normal(0, np.sqrt(power / 10 ** (channel.snr_db / 10)), signal.shape)
    return Audio.from_float(signal + noise, out.rate)


def _render(text: str, voice: str) -> Audio:
    kind, _, name = voice.partition(":")
    if kind == "piper":
        from voicebot.tts import get_synthesizer

        # Without its sampling noise Piper renders the same audio on every machine, so a test
        # that passes here passes in CI (with noise, telephone WER moved 0.07–0.12 between renders).
        return get_synthesizer("piper", noise_scale=0.0, noise_w_scale=0.0).synthesize(text).canonical()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "voice.wav"
        if kind == "flite":
            _run(["flite", "-voice", name or "kal", "-t", text, "-o", str(wav)])
        elif kind == "espeak":
            _run(["espeak-ng", "-v", name or "en-us", "-s", "150", "-w", str(wav), text])
        else:
            raise VoicebotError(f"unknown test voice {voice!r}; choose one of {', '.join(VOICES)}")
        return read_wav(wav).canonical()


def _run(cmd: list[str]) -> None:
    if shutil.which(cmd[0]) is None:
        raise VoicebotError(f"{cmd[0]} is not installed (apt-get install {cmd[0]})")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise VoicebotError(f"{cmd[0]} failed: {proc.stderr.strip()[:200]}")


def with_silence(paths: list[Path], gap_s: float = 1.2, rate: int = 16000) -> Audio:
    """Several utterances in one recording, separated by silence (a multi-turn caller file)."""
    parts: list[Audio] = [Audio.silence(0.5, rate)]
    for p in paths:
        parts += [read_wav(p).canonical(rate), Audio.silence(gap_s, rate)]
    return Audio(np.concatenate([p.samples for p in parts]), rate)
