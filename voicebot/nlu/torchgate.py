"""One gate around torch's import. spaCy loads with `import torch` made to fail (thinc imports
torch only to offer layers the tokenizer and Matcher never use: 1.2 s and ~200 MB a start), and
models load side by side on threads (registry.load_together): without the gate, MiniLM's torch
fallback or its first ONNX export could run while spaCy holds torch blocked and fail."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

_GATE = threading.RLock()


@contextlib.contextmanager
def torch_blocked() -> Iterator[None]:
    """`import torch` fails inside (ImportError, which thinc handles) unless torch is loaded already;
    it is importable again after."""
    with _GATE:
        if "torch" in sys.modules:
            yield
            return
        sys.modules["torch"] = None  # type: ignore[assignment]
        try:
            yield
        finally:
            if sys.modules.get("torch", 0) is None:
                del sys.modules["torch"]


@contextlib.contextmanager
def torch_importable() -> Iterator[None]:
    """Waits until no one holds torch blocked; for the code that really imports torch."""
    with _GATE:
        yield
