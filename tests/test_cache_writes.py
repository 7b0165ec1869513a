"""Cache and record files are replaced whole or not at all."""

from __future__ import annotations

import pytest

from voicebot.audio.types import Audio
from voicebot.audio.wavio import read_wav, write_wav
from voicebot.cache import replaced_atomically


def test_a_clean_block_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "table.json"
    target.write_text("old")
    with replaced_atomically(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".json" and tmp != target
        tmp.write_text("new")
        assert target.read_text() == "old"  # readers see the old file until the block ends
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["table.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "table.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), replaced_atomically(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.json"]


def test_a_wav_that_cannot_be_encoded_leaves_nothing(tmp_path):
    target = tmp_path / "call.wav"
    with pytest.raises(Exception):
        write_wav(target, Audio.from_float([0.0] * 160, 8000), subtype="NOT_A_SUBTYPE")
    assert list(tmp_path.iterdir()) == []
    write_wav(target, Audio.from_float([0.0] * 160, 8000))
    assert read_wav(target).rate == 8000 and [p.name for p in tmp_path.iterdir()] == ["call.wav"]
