"""Cold-start changes keep the models' numbers: the hashed n-grams made without scikit-learn equal
scikit-learn's on every phrase the intent model is trained and tested on, and a CLI process that
only classifies text never imports torch, transformers or scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voicebot.nlu.hashing import hashed_counts
from voicebot.nlu.intent_head import NGRAM_FEATURES, NGRAM_RANGE, PHONETIC_FEATURES, PHONETIC_RANGE, ngram_features, phonetic_features

ROOT = Path(__file__).resolve().parents[1]


def _phrases() -> list[str]:
    from voicebot.nlu.dataset import normalize
    from voicebot.nlu.train import load_training_data

    texts = [e.text for e in load_training_data().examples]
    for line in (ROOT / "intents/test/heldout_asr.jsonl").read_text().splitlines():
        texts.append(json.loads(line)["text"])
    return texts + ["", "  a  ", "é çà  naïve", "x", "$250.00 on 12/03"] + [normalize(t) for t in texts[:50]]


@pytest.fixture(scope="module")
def phrases():
    return _phrases()


def test_char_wb_ngrams_equal_sklearn(phrases):
    from sklearn.feature_extraction.text import HashingVectorizer

    from voicebot.nlu.dataset import normalize

    ref = HashingVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, n_features=NGRAM_FEATURES,
                            alternate_sign=False, norm="l2").transform([normalize(t) for t in phrases])
    ours = ngram_features(phrases)
    assert ours.shape == ref.shape and ours.nnz > 0
    assert abs(ours - ref).max() < 1e-12


def test_sound_key_ngrams_equal_sklearn(phrases):
    from sklearn.feature_extraction.text import HashingVectorizer

    from voicebot.nlu.phonetic import sound_key

    ref = HashingVectorizer(analyzer="char", ngram_range=PHONETIC_RANGE, n_features=PHONETIC_FEATURES,
                            alternate_sign=False, norm="l2", lowercase=False).transform([sound_key(t) for t in phrases])
    ours = phonetic_features(phrases)
    assert abs(ours - ref).max() < 1e-12


def test_unigrams_and_short_texts_equal_sklearn():
    from sklearn.feature_extraction.text import HashingVectorizer

    texts = ["ab", "a", "", "Hello   World", "zz top"]
    for analyzer in ("char", "char_wb"):
        ref = HashingVectorizer(analyzer=analyzer, ngram_range=(1, 3), n_features=64, alternate_sign=False,
                                norm="l2").transform(texts)
        ours = hashed_counts(texts, analyzer=analyzer, ngram_range=(1, 3), n_features=64)
        assert np.allclose(ours.toarray(), ref.toarray())


def test_classify_imports_no_heavy_frameworks(tmp_path):
    """`voicebot classify` loads the ONNX MiniLM, spaCy's tokenizer and the heads only."""
    probe = ("import sys, runpy\n"
             "sys.argv = ['voicebot', 'classify', 'I lost my card', '--json']\n"
             "try:\n    runpy.run_module('voicebot', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "heavy = sorted(m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules)\n"
             "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert '"intent": "report_lost_card"' in out.stdout
    assert "HEAVY []" in out.stdout


def test_noise_suppression_equals_the_scipy_signal_version(speak, telephone):
    """voicebot.asr.stft reproduces scipy.signal.stft/istft and ndimage.uniform_filter bit for bit,
    so the recogniser hears exactly what it heard before scipy.signal left the start-up path."""
    from scipy import ndimage, signal

    from voicebot.asr.denoise import FRAME, GAIN_FLOOR, HOP, NOISE_QUANTILE, OVERSUBTRACT, suppress_noise
    from voicebot.audio import read_wav

    def reference(samples):
        _, _, spec = signal.stft(samples, 16000, nperseg=FRAME, noverlap=FRAME - HOP)
        power = np.abs(spec) ** 2
        energy = power.sum(axis=0)
        noise = power[:, energy <= np.quantile(energy, NOISE_QUANTILE)].mean(axis=1, keepdims=True)
        gain = ndimage.uniform_filter(np.maximum(1.0 - OVERSUBTRACT * noise / (power + 1e-12), GAIN_FLOOR), size=3)
        _, out = signal.istft(spec * np.sqrt(gain), 16000, nperseg=FRAME, noverlap=FRAME - HOP)
        return out[: samples.shape[0]].astype(np.float32)

    wavs = sorted((ROOT / "examples" / "calls").glob("*/*.wav"))
    wavs.append(speak("my customer number is one two three four", "flite:kal", telephone))
    for path in wavs:
        samples = read_wav(path).canonical().to_float()
        assert np.array_equal(suppress_noise(samples), reference(samples)), path
    rng = np.random.default_rng(0)
    for n in (2048, 2049, 16000 * 3 + 77):
        samples = (rng.standard_normal(n) * 0.1).astype(np.float32)
        assert np.array_equal(suppress_noise(samples), reference(samples))


def test_fir_equals_scipy_firwin_and_lfilter():
    """voicebot.audio.fir reproduces scipy.signal.firwin/lfilter bit for bit, so the streaming
    resamplers (8 <-> 16 <-> 48 kHz) and the SIP line's low-pass give the samples they gave when
    they imported scipy.signal on a call's first frame."""
    from scipy import signal

    from voicebot.audio.fir import fir_step, lowpass
    from voicebot.pipeline.framing import IntegerResampler
    from voicebot.transports.sip.adapter import LineRate

    for numtaps, cutoff in ((49, 0.9), (49, 0.45), (73, 0.3), (63, 3600 / 8000), (25, 0.05)):
        assert np.array_equal(lowpass(numtaps, cutoff), signal.firwin(numtaps, cutoff)), (numtaps, cutoff)
    with pytest.raises(ValueError):
        lowpass(49, 1.0)
    rng = np.random.default_rng(1)
    taps = signal.firwin(49, 0.45) * 2
    ours = theirs = np.zeros(48)
    for n in (320, 160, 10, 47, 48, 49, 1, 960, 0):  # frames shorter than the state too
        x = rng.standard_normal(n) * 3000
        y, ours = fir_step(taps, x, ours)
        if n:
            ref, theirs = signal.lfilter(taps, 1.0, x, zi=theirs)
            assert np.array_equal(y, ref) and np.array_equal(ours, theirs), n
        else:
            assert y.shape == (0,) and np.array_equal(ours, theirs)

    def scipy_resampler(up: int, down: int, numtaps: int):
        h, zi, phase = signal.firwin(numtaps, 0.9 / (up * down)) * up, np.zeros(numtaps - 1), 0

        def run(samples):
            nonlocal zi, phase
            x = samples.astype(np.float64)
            if up > 1:
                x = np.zeros(x.shape[0] * up)
                x[::up] = samples
            y, zi = signal.lfilter(h, 1.0, x, zi=zi)
            if down > 1:
                y, phase = y[phase::down], (phase - x.shape[0]) % down
            return np.clip(np.round(y), -32768, 32767).astype(np.int16)
        return run

    frames = [(rng.standard_normal(n) * 8000).astype(np.int16) for n in (160, 160, 80, 333, 160)]
    for rate_in, rate_out in ((8000, 16000), (16000, 8000), (48000, 16000), (16000, 48000)):
        ours, up, down = IntegerResampler(rate_in, rate_out), max(1, rate_out // rate_in), max(1, rate_in // rate_out)
        ref = scipy_resampler(up, down, IntegerResampler.TAPS_PER_PHASE * up * down + 1)
        for frame in frames:
            assert np.array_equal(ours(frame), ref(frame)), (rate_in, rate_out)
    line, zi = LineRate(16000), np.zeros(LineRate.TAPS - 1)
    taps = signal.firwin(LineRate.TAPS, 3600, fs=16000)
    for frame in frames[:2] + [frames[3][:332]]:
        filtered, zi = signal.lfilter(taps, 1.0, frame.astype(np.float64), zi=zi)
        assert np.array_equal(line(frame), np.clip(np.rint(filtered[::2]), -32768, 32767).astype(np.int16))


@pytest.mark.slow
def test_ready_probe_reports_its_breakdown_without_the_imports_it_no_longer_needs():
    """The bench's ready probe: its line carries each step and each loader Stack.load ran side by
    side; a process that is ready (no store opened) has not imported scipy.signal, SQLAlchemy,
    torch or scikit-learn, collects garbage again and has frozen what the start loaded."""
    script = ("import gc, json, runpy, sys\n"
              "sys.argv = ['probe']\n"
              "runpy.run_module('voicebot.bench.probe', run_name='__main__')\n"
              "print(json.dumps({'event': 'after', 'gc': gc.isenabled(), 'frozen': gc.get_freeze_count(),\n"
              "  'heavy': [m for m in ('scipy.signal', 'sqlalchemy', 'torch', 'sklearn') if m in sys.modules]}))\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    ready, after = (json.loads(line) for line in out.stdout.splitlines())
    assert ready["event"] == "ready" and after["event"] == "after"
    stages = ready["stages"]
    assert list(stages) == ["imports", "flow", "models", "prompts", "nlu_first_turn", "asr_first_decode"]
    assert all(v >= 0 for v in stages.values()) and sum(stages.values()) <= ready["load_s"] + 0.05
    loaders = {row["loader"]: row for row in ready["loaders"]}
    assert {"recognizer", "voice", "minilm_and_heads", "spacy_matcher"} <= set(loaders)
    assert all(0 <= row["cpu_s"] and 0 <= row["at_s"] <= ready["load_s"] for row in loaders.values())
    assert after["heavy"] == [] and after["gc"] is True and after["frozen"] > 100_000
