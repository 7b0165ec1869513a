"""MiniLM on onnxruntime gives the torch embeddings, so the shipped heads classify exactly as before;
the ONNX file is exported, checked and cached by itself, and torch takes over when it cannot be."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from voicebot.nlu import embedder as embedder_mod
from voicebot.nlu import onnx_embedder
from voicebot.nlu.embedder import Embedder, model_dir
from voicebot.nlu.onnx_embedder import OnnxEmbedder
from voicebot.nlu.runtime import Nlu

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

TEXTS = [
    "I'd like to check my balance",
    "transfer two hundred and fifty dollars to my savings account tomorrow",
    "my customer id is one two three four five six seven eight",
    "that's my fourth call this month about it and nobody has sorted it out",
    "yeah",
    "what's the weather like",
    "Héllo, I LOST my card!!",
    "",
    "please " * 80,  # past MAX_TOKENS: truncated the same way
]


@pytest.fixture(scope="module")
def torch_embedder():
    return Embedder()


@pytest.fixture(scope="module")
def onnx_embedder_():
    return OnnxEmbedder()


def test_onnx_embeddings_match_torch(torch_embedder, onnx_embedder_):
    expected = torch_embedder.encode(TEXTS)
    batched = onnx_embedder_.encode(TEXTS, batch_size=4)  # padding inside a batch must not move vectors
    single = np.vstack([onnx_embedder_.encode([t]) for t in TEXTS])
    for got in (batched, single):
        assert got.shape == expected.shape and got.dtype == np.float32
        assert (got * expected).sum(axis=1).min() > 0.9999
        assert np.abs(got - expected).max() < 1e-4


@pytest.mark.parametrize("text", TEXTS[:6] + ["send fifty quid to my son next friday", "no that's all thanks bye"])
def test_classify_unchanged(torch_embedder, onnx_embedder_, text):
    by_torch, by_onnx = Nlu(ROOT / "models" / "nlu-demo"), Nlu(ROOT / "models" / "nlu-demo")
    by_torch.embedder, by_onnx.embedder = torch_embedder, onnx_embedder_
    a, b = by_torch.understand(text), by_onnx.understand(text)
    assert (b.intent, b.sentiment, b.entities) == (a.intent, a.sentiment, a.entities)
    assert b.confidence == pytest.approx(a.confidence, abs=1e-3)
    assert b.sentiment_score == pytest.approx(a.sentiment_score, abs=1e-3)
    assert [name for name, _ in b.alternatives] == [name for name, _ in a.alternatives]


def test_export_is_cached_by_weights_and_leaves_no_temp_file(tmp_path, monkeypatch, onnx_embedder_):
    monkeypatch.setenv("VOICEBOT_CACHE", str(tmp_path))
    path = onnx_embedder.exported_model(model_dir())
    assert path.parent == tmp_path / "onnx" and path.name == f"minilm-{onnx_embedder.weights_key(model_dir())}.onnx"
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    fresh = OnnxEmbedder(path).encode(TEXTS[:3])
    assert np.abs(fresh - onnx_embedder_.encode(TEXTS[:3])).max() < 1e-5

    def no_export(*_):
        raise AssertionError("exported again although cached")

    monkeypatch.setattr(onnx_embedder, "export", no_export)
    assert onnx_embedder.exported_model(model_dir()) == path


def test_falls_back_to_torch_with_a_warning(monkeypatch, caplog):
    def broken(self, *_):
        raise RuntimeError("no onnxruntime here")

    monkeypatch.setattr(OnnxEmbedder, "__init__", broken)
    monkeypatch.setattr(embedder_mod, "Embedder", lambda: "torch embedder")  # loading the real one is tested above
    with caplog.at_level(logging.WARNING, logger="voicebot.nlu.embedder"):
        assert embedder_mod._load_backend("onnx") == "torch embedder"
    assert "no onnxruntime here" in caplog.text and "using torch" in caplog.text
    assert embedder_mod._load_backend("torch") == "torch embedder"
    with pytest.raises(Exception, match="expected 'onnx' or 'torch'"):
        embedder_mod._load_backend("tensorrt")
