"""The on-disk model directory: metadata.json + intent.npz + sentiment head files.

Written into a hidden temp directory beside the target and renamed at the end, so a failed or
interrupted training never leaves a half-written model that `load_model` could pick up."""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voicebot.errors import ModelError, os_reason

FORMAT_VERSION = 2  # 2: sound-key n-gram block added to the intent head's features
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
METADATA = "metadata.json"


def write_model_dir(out: Path, fill: Callable[[Path], None]) -> Path:
    """Create `out` atomically: `fill(tmp_dir)` writes the files, then tmp_dir becomes `out`."""
    out = Path(out)
    if out.exists():
        raise ModelError(f"{out}: model directory already exists; choose another --out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise ModelError(f"{out}: cannot create the model directory ({os_reason(exc)})") from None
    try:
        fill(tmp)
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the model from other users of the checkout
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def save_metadata(directory: Path, meta: dict) -> None:
    (directory / METADATA).write_text(json.dumps({"format_version": FORMAT_VERSION, **meta}, indent=2) + "\n")


def read_metadata(directory: Path) -> dict:
    path = Path(directory) / METADATA
    if not Path(directory).is_dir():
        raise ModelError(f"{directory}: no such model directory")
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path}: missing; {directory} is not a voicebot NLU model directory") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable model metadata ({exc})") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version != FORMAT_VERSION:
        raise ModelError(f"{path}: model format version {version!r}, this voicebot reads version {FORMAT_VERSION}; retrain with `voicebot train`")
    return meta


def load_arrays(directory: Path, name: str) -> dict[str, np.ndarray]:
    path = Path(directory) / name
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # missing, cut short, not an .npz
        raise ModelError(f"{path}: cannot read model weights ({exc})") from None


def newest_model(root: Path | None = None) -> Path | None:
    """The most recently trained valid-looking model directory under `root` (by metadata time)."""
    candidates = []
    for child in Path(root or MODELS_DIR).glob("*/" + METADATA):
        try:
            meta = json.loads(child.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
            continue  # an older layout cannot be loaded; the default is the newest usable model
        created = meta.get("created", "")
        candidates.append((created, child.parent))
    return max(candidates)[1] if candidates else None
