"""onnxruntime sessions that start fast: most of an InferenceSession's load time is graph
optimisation (Piper's voice: ~3 s of ~4 s on a busy 2-core box). Following onnxruntime's "offline
optimisation", the model is optimised once at the extended level (fusions that hold on any CPU,
unlike the all level's CPU-specific layouts), saved in the cache, and later loaded with
optimisation off. The cached file is named after the source's path, size and mtime and
onnxruntime's version, so a new model or runtime makes a new one."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from voicebot.cache import cache_dir, replaced_atomically

PROVIDERS = ["CPUExecutionProvider"]


def optimized_path(model: Path) -> Path:
    import onnxruntime as ort

    st = Path(model).stat()
    key = hashlib.sha1(f"{ort.__version__}|{Path(model).resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir("onnx-optimized") / f"{Path(model).stem}-{key}.onnx"


def fast_session(model: Path, options: Any = None) -> Any:
    """An InferenceSession of `model` with `options` (threads, logging) that skips optimisation at
    load; the first load anywhere writes the optimised copy (tmp file + rename: readers never see
    half a file) and returns the session it optimised."""
    import onnxruntime as ort

    options = options or ort.SessionOptions()
    cached = optimized_path(model)
    if cached.exists():
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        return ort.InferenceSession(str(cached), options, providers=PROVIDERS)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    with replaced_atomically(cached) as tmp:
        options.optimized_model_filepath = str(tmp)
        session = ort.InferenceSession(str(model), options, providers=PROVIDERS)
    return session
