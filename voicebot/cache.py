"""Where voicebot keeps files it can always make again (rendered speech and prompts, embeddings,
the ONNX export): `.cache/` at the checkout's root, or $VOICEBOT_CACHE."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from voicebot.errors import ConfigError, os_reason


def cache_dir(name: str) -> Path:
    """The cache subdirectory `name`, created if missing."""
    root = os.environ.get("VOICEBOT_CACHE") or Path(__file__).resolve().parent.parent / ".cache"
    path = Path(root) / name
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = "$VOICEBOT_CACHE" if os.environ.get("VOICEBOT_CACHE") else "the cache"
        raise ConfigError(f"{where} {root}: cannot make the folder {path} ({os_reason(exc)})") from None
    return path


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write into; renamed onto `path` when the block ends
    cleanly and removed when it raises, so a reader (or a crash) never sees half a file. The name
    is per process and thread, so parallel writers never share one; it keeps `path`'s suffix,
    which some writers (numpy, onnxruntime) go by."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.part{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
