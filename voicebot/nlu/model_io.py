"""The on-disk model directory: metadata.json + intent.npz + sentiment head files.

Written into a hidden temp directory beside the target and renamed at the end, so a failed or
interrupted training never leaves a half-written model that `load_model` could pick up."""

from __future__ import annotations

import hashlib
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


# What decides the model's answers besides its weights: part of what its version identifies.
_DECIDING = ("labels", "threshold", "routes", "features", "sentiment")
_WEIGHTS = ("intent.npz", "sentiment.npz", "sentiment.json")


def artefact_digest(directory: Path, meta: dict) -> str:
    """SHA-256 of what the model computes with: every array of its weight files (name, dtype,
    shape, values — not the .npz bytes, whose zip headers carry the time they were written), the
    sentiment head's settings and the deciding metadata. Two trainings that made the same model
    have the same digest."""
    digest = hashlib.sha256()
    for name in _WEIGHTS:
        path = Path(directory) / name
        if not path.exists():
            continue
        digest.update(name.encode() + b"\0")
        if name.endswith(".npz"):
            for key, array in sorted(load_arrays(directory, name).items()):
                digest.update(f"{key}|{array.dtype.str}|{array.shape}\0".encode())
                digest.update(np.ascontiguousarray(array).tobytes())
        else:
            digest.update(path.read_bytes())
    digest.update(json.dumps({k: meta.get(k) for k in _DECIDING}, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def model_version(digest: str, created: str) -> str:
    """What names a model in call records, reports and the web console: the day it was trained and
    its artefact digest, e.g. `20261203-3f9a1c2b7d4e` (never the folder it happens to sit in)."""
    return f"{created[:10].replace('-', '')}-{digest[:12]}"


def version_of(directory: Path, meta: dict) -> str:
    """The model's version; a model trained before versions were digests (its `version` was its
    folder's name) gets one computed from its files now."""
    if meta.get("artefact_sha256"):
        return meta["version"]
    return model_version(artefact_digest(directory, meta), str(meta.get("created", "")))


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
