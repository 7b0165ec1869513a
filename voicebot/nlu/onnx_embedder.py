"""MiniLM on onnxruntime: the torch `Embedder`'s sentence embeddings (fp32, equal within ~1e-6) at
about half the cost per caller turn, and 2–3x the throughput for training batches.

The graph (encoder + mean pooling + L2 norm) is exported from the package's own weights on first use
and cached in `<cache>/onnx/`, keyed by a hash of those weights, so nothing is shipped or downloaded.
Only the export needs torch, transformers and onnx; later loads use tokenizers + onnxruntime alone."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from voicebot.cache import cache_dir
from voicebot.errors import ModelError
from voicebot.nlu.embedder import DIM, MAX_TOKENS, model_dir, nlu_threads
from voicebot.onnxcache import fast_session

EXPORT_VERSION = 1  # bump when the exported graph changes: old cached files are then ignored
OPSET = 17
TOLERANCE = 1e-4  # the trained heads see these embeddings; more drift than this is a broken export
CHECK_TEXTS = ["what's my balance", "transfer two hundred dollars to my savings account tomorrow please", "yeah"]


class OnnxEmbedder:
    backend = "onnx"

    def __init__(self, onnx_path: Path | None = None) -> None:
        import onnxruntime as ort

        src = model_dir()
        self.tokenizer = load_tokenizer(src)
        self.path = onnx_path or exported_model(src)
        opts = ort.SessionOptions()
        # One thread, as for torch: on a busy 2-core box a second one spin-waits instead of helping
        # (measured: training batches were no faster with two, single turns slower).
        opts.intra_op_num_threads = nlu_threads()
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3  # no per-node placement chatter
        if onnx_path is None:  # the cached export: optimised once, then loaded without optimising
            self.session = fast_session(self.path, opts)
        else:  # a file being checked (a fresh export): no optimised copy kept for it
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            encs = self.tokenizer.encode_batch([t.lower() for t in texts[start : start + batch_size]])
            feeds = {
                "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
            }
            out[start : start + len(encs)] = self.session.run(None, feeds)[0]
        return out

    def bulk(self):
        """Training batches: a second thread measured no faster here, so nothing changes."""
        return contextlib.nullcontext()


def load_tokenizer(src: Path):
    """The fast (Rust) tokenizer straight from tokenizer.json: same ids as transformers' AutoTokenizer
    without importing transformers (seconds at load, ~25 µs a call)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(src / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    # The file pads every input to 128 tokens; pad only to the batch's longest, as the torch path does.
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def weights_key(src: Path) -> str:
    digest = hashlib.sha256(f"v{EXPORT_VERSION}|opset{OPSET}".encode())
    for name in ("config.json", "model.safetensors"):  # ~0.1 s for the 90 MB of weights
        digest.update((src / name).read_bytes())
    return digest.hexdigest()[:16]


def exported_model(src: Path) -> Path:
    """The cached ONNX file for these weights, exported first if missing."""
    path = cache_dir("onnx") / f"minilm-{weights_key(src)}.onnx"
    if not path.exists():
        print("voicebot: exporting MiniLM to ONNX for onnxruntime (once, 5-20 s)…", file=sys.stderr)
        export(src, path)
    return path


def export(src: Path, dest: Path) -> None:
    """Trace the torch model to `dest`, check it against torch, then rename into place: a reader never
    sees a half-written file and two processes exporting at once each rename a complete one."""
    from voicebot.nlu.torchgate import torch_importable

    with torch_importable():  # not while spaCy loads with torch blocked (models load side by side)
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    # Eager attention traces to plain MatMul/Softmax that onnxruntime fuses; sdpa traces a Python branch.
    model = AutoModel.from_pretrained(src, local_files_only=True, attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        """The torch Embedder's pooling inside the graph: one call returns finished embeddings."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1)

    tokenizer = load_tokenizer(src)
    encs = tokenizer.encode_batch([t.lower() for t in CHECK_TEXTS])
    ids = torch.tensor([e.ids for e in encs])
    mask = torch.tensor([e.attention_mask for e in encs])
    fd, name = tempfile.mkstemp(prefix=f"{dest.stem}.", suffix=".tmp.onnx", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer notes about constant shapes: checked below instead
            torch.onnx.export(
                Pooled().eval(), (ids, mask), str(tmp), input_names=["input_ids", "attention_mask"],
                output_names=["embedding"], opset_version=OPSET, dynamo=False,
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                              "embedding": {0: "batch"}},
            )
            expected = Pooled()(ids, mask).numpy()
        # Check other batch sizes and lengths than the traced one: a baked-in shape would show here.
        got = np.vstack([OnnxEmbedder(tmp).encode([t]) for t in CHECK_TEXTS])
        drift = float(np.abs(got - expected).max())
        if drift > TOLERANCE:
            raise ModelError(f"exported MiniLM differs from torch by {drift:.2e} (> {TOLERANCE})")
        tmp.chmod(0o644)  # mkstemp's 0600 would hide the cache from other users of the checkout
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
