"""Numeric environment settings: defaults when unset, one ConfigError naming the variable when not a number."""

from __future__ import annotations

import logging
import os

import pytest

from voicebot.envvars import env_count, env_log_level, env_number
from voicebot.errors import ConfigError
from voicebot.nlu.embedder import nlu_threads
from voicebot.pipeline.workers import worker_count
from voicebot.tts.piper import tts_threads


def test_unset_or_blank_gives_the_default(monkeypatch):
    monkeypatch.delenv("VOICEBOT_X", raising=False)
    assert env_number("VOICEBOT_X", 2.5) == 2.5
    monkeypatch.setenv("VOICEBOT_X", "  ")
    assert env_count("VOICEBOT_X", 3) == 3


def test_numbers_are_read(monkeypatch):
    monkeypatch.setenv("VOICEBOT_TTS_THREADS", "2")
    monkeypatch.setenv("VOICEBOT_NLU_THREADS", "3")
    monkeypatch.setenv("VOICEBOT_WORKERS", "5")
    assert (tts_threads(), nlu_threads(), worker_count()) == (2, 3, 5)


@pytest.mark.parametrize("value", ["two", "2.5", "-1"])
def test_a_bad_count_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("VOICEBOT_WORKERS", value)
    with pytest.raises(ConfigError, match=r"VOICEBOT_WORKERS="):
        worker_count()


@pytest.mark.parametrize("value, level", [("debug", logging.DEBUG), ("Info", logging.INFO), ("30", 30), ("", logging.WARNING)])
def test_log_level_by_name_in_any_case_or_number(monkeypatch, value, level):
    monkeypatch.setenv("VOICEBOT_LOG", value)
    assert env_log_level() == level


def test_a_bad_log_level_names_the_variable_without_a_traceback(tmp_path):
    """VOICEBOT_LOG=LOUD (or lower-case debug) had been a ValueError traceback from logging."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "voicebot", "report", "--db", str(tmp_path / "x.db")],
                         capture_output=True, text=True, env={**os.environ, "VOICEBOT_LOG": "LOUD"}, cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == "error: VOICEBOT_LOG='LOUD': expected DEBUG, INFO, WARNING, ERROR or CRITICAL"


def test_a_bad_thread_count_is_said_not_worked_around(monkeypatch):
    """A bad VOICEBOT_NLU_THREADS had sent the embedder to torch (slow, with a misleading warning)
    before failing there too."""
    from voicebot.nlu.embedder import _load_backend

    monkeypatch.setenv("VOICEBOT_NLU_THREADS", "abc")
    with pytest.raises(ConfigError, match="VOICEBOT_NLU_THREADS='abc'"):
        _load_backend("onnx")


def test_a_cache_that_is_a_file_names_the_variable(monkeypatch, tmp_path):
    """VOICEBOT_CACHE pointing at a file had been a NotADirectoryError traceback mid-load."""
    from voicebot.cache import cache_dir

    (tmp_path / "notes.txt").write_text("x")
    monkeypatch.setenv("VOICEBOT_CACHE", str(tmp_path / "notes.txt"))
    with pytest.raises(ConfigError, match=r"^\$VOICEBOT_CACHE .*notes.txt: cannot make the folder .*\(a file is in the way\)$"):
        cache_dir("speech")
