"""Where voicebot keeps files it can always make again (rendered speech and prompts, embeddings,
the ONNX export): `.cache/` at the checkout's root, or $VOICEBOT_CACHE."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(name: str) -> Path:
    """The cache subdirectory `name`, created if missing."""
    root = os.environ.get("VOICEBOT_CACHE") or Path(__file__).resolve().parent.parent / ".cache"
    path = Path(root) / name
    path.mkdir(parents=True, exist_ok=True)
    return path
