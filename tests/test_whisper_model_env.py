"""$VOICEBOT_WHISPER_MODEL points every Whisper load without `model=` (the Stack, `voicebot eval`,
the benchmarks) at another CTranslate2 model directory; a wrong one is one clear error."""

from __future__ import annotations

import pytest

from voicebot.asr.whisper_model import MODEL_ENV, default_model_dir
from voicebot.errors import ModelError


def test_the_variable_chooses_the_model_directory(tmp_path, monkeypatch):
    (tmp_path / "model.bin").write_bytes(b"")
    monkeypatch.setenv(MODEL_ENV, str(tmp_path))
    assert default_model_dir() == tmp_path


def test_a_directory_without_a_model_names_the_variable_and_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match=f"{MODEL_ENV}=.*nowhere.*no model.bin"):
        default_model_dir()


def test_unset_or_blank_is_the_packaged_model(monkeypatch):
    monkeypatch.setenv(MODEL_ENV, " ")
    assert (default_model_dir() / "model.bin").is_file()
