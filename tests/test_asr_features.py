"""The speech-only log-Mel features (voicebot/asr/features.py) are faster-whisper's features of
the zero-padded window, within float32 rounding (the filterbank product is summed in another order)."""

import numpy as np
import pytest

from voicebot.asr.features import log_mel


@pytest.fixture(scope="module")
def extractor():
    from faster_whisper.feature_extractor import FeatureExtractor

    return FeatureExtractor(feature_size=80)


def reference(extractor, samples: np.ndarray, frames: int) -> np.ndarray:
    padded = np.zeros(frames * 160, dtype=np.float32)
    padded[: min(samples.shape[0], padded.shape[0])] = samples[: padded.shape[0]]
    return extractor(padded, padding=0)[:, :frames]


@pytest.mark.parametrize("seconds, frames", [(3.0, 1000), (3.0023, 600), (0.006, 1000), (0.0, 1000),
                                             (9.99, 1000), (12.0, 1500), (35.0, 3000)])
def test_same_features_as_the_whole_window(extractor, seconds, frames):
    rng = np.random.default_rng(int(seconds * 1000))
    t = np.arange(int(seconds * 16000)) / 16000
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * (t < seconds / 2) + 0.05 * rng.standard_normal(t.shape)).astype(np.float32)
    got, want = log_mel(extractor, samples, frames), reference(extractor, samples, frames)
    assert got.shape == want.shape == (80, frames) and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    tail = min(frames, samples.shape[0] // 160 + 4)  # frames of padding only: the floor, 8 below the peak
    if tail < frames:
        assert np.all(got[:, tail:] == got.min())
        assert got.min() == pytest.approx(max(got.max() - 2.0, -1.5), abs=1e-6)


def test_speech_changes_features_only_where_it_is(extractor):
    """A click at 1 s moves the frames around 1 s, not the padding's floor (the window's peak
    sets the floor, so the reference moves it in the same way)."""
    samples = np.zeros(32000, dtype=np.float32)
    samples[16000:16080] = 0.9
    got = log_mel(extractor, samples, 1000)
    loud = np.flatnonzero(got.max(axis=0) > got.min())
    assert loud.min() >= 97 and loud.max() <= 103
    np.testing.assert_allclose(got, reference(extractor, samples, 1000), rtol=0, atol=1e-6)
