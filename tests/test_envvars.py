"""Numeric environment settings: defaults when unset, one ConfigError naming the variable when not a number."""

from __future__ import annotations

import pytest

from voicebot.envvars import env_count, env_number
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
