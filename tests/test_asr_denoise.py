"""Noise suppression in front of Whisper (voicebot/asr/denoise.py): the steady line hiss goes
down, the speech band stays, and silence or very short clips pass through untouched."""

from __future__ import annotations

import numpy as np

from voicebot.asr.denoise import FRAME, suppress_noise

RATE = 16000


def _power(x: np.ndarray) -> float:
    return float(np.mean(x.astype(np.float64) ** 2))


def _caller(seconds: float = 3.0, snr_db: float = 15.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 'voice' (harmonic tone bursts with pauses, as words are) plus white line noise."""
    t = np.arange(int(seconds * RATE)) / RATE
    voice = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((220, 440, 660, 880), 1))
    voice *= (np.sin(2 * np.pi * 1.5 * t) > 0)  # ~330 ms words, ~330 ms pauses
    voice = (0.1 * voice / np.sqrt(_power(voice[voice != 0]))).astype(np.float32)
    noise_power = _power(voice[voice != 0]) / 10 ** (snr_db / 10)
    noise = np.random.default_rng(0).normal(0, np.sqrt(noise_power), t.shape).astype(np.float32)
    return voice + noise, voice, noise


def test_line_noise_goes_down_and_the_voice_stays():
    noisy, voice, noise = _caller()
    out = suppress_noise(noisy, RATE)
    assert out.shape == noisy.shape and out.dtype == np.float32
    pauses = voice == 0
    # in the pauses only noise is left: at least 6 dB less of it (the gain floor allows 10 dB)
    assert _power(out[pauses]) < _power(noise[pauses]) / 4
    # the words keep most of their power, and the error against the clean voice shrinks
    words = ~pauses
    assert _power(out[words]) > 0.7 * _power(voice[words])
    assert _power(out - voice) < _power(noisy - voice) / 2


def test_silence_and_short_clips_are_unchanged():
    silence = np.zeros(RATE, dtype=np.float32)
    assert np.array_equal(suppress_noise(silence, RATE), silence)
    short = np.random.default_rng(1).normal(0, 0.01, FRAME).astype(np.float32)
    assert np.array_equal(suppress_noise(short, RATE), short)


def test_clean_speech_is_barely_touched():
    """Without line noise the quietest frames are near silence and nothing audible is subtracted."""
    _, voice, _ = _caller()
    clean = voice + np.random.default_rng(2).normal(0, 1e-4, voice.shape).astype(np.float32)
    out = suppress_noise(clean, RATE)
    words = voice != 0
    assert _power(out[words] - voice[words]) < 0.01 * _power(voice[words])
