"""$VOICEBOT_WHISPER_MODEL points every Whisper load without `model=` (the Stack, `voicebot eval`,
the benchmarks) at another CTranslate2 model directory; a wrong one is one clear error."""

from __future__ import annotations

import pytest

from voicebot.asr import whisper_model
from voicebot.asr.whisper_model import MODEL_ENV, TELEPHONE_MODEL_DIR, default_model_dir, packaged_model_dir
from voicebot.errors import ModelError


def test_the_variable_chooses_the_model_directory(tmp_path, monkeypatch):
    (tmp_path / "model.bin").write_bytes(b"")
    monkeypatch.setenv(MODEL_ENV, str(tmp_path))
    assert default_model_dir() == tmp_path


def test_a_directory_without_a_model_names_the_variable_and_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match=f"{MODEL_ENV}=.*nowhere.*no model.bin"):
        default_model_dir()


def test_unset_or_blank_is_the_telephone_model_in_the_repository(monkeypatch):
    monkeypatch.setenv(MODEL_ENV, " ")
    assert default_model_dir() == TELEPHONE_MODEL_DIR
    assert (TELEPHONE_MODEL_DIR / "model.bin").is_file()


def test_packaged_is_the_wheels_model_and_not_the_telephone_one(monkeypatch):
    monkeypatch.setenv(MODEL_ENV, "packaged")
    packaged = default_model_dir()
    assert packaged == packaged_model_dir() != TELEPHONE_MODEL_DIR
    # the telephone model is the packaged one moved part of the way, not a copy of it
    assert (packaged / "model.bin").stat().st_size == (TELEPHONE_MODEL_DIR / "model.bin").stat().st_size
    assert (packaged / "model.bin").read_bytes() != (TELEPHONE_MODEL_DIR / "model.bin").read_bytes()


def test_the_telephone_model_missing_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.setattr(whisper_model, "TELEPHONE_MODEL_DIR", tmp_path / "gone")
    with pytest.raises(ModelError, match="telephone model .*gone.*no model.bin"):
        whisper_model.default_model_dir()
