"""Shared test fixtures. Models load once per test session (the registries cache instances);
synthesized caller audio is cached on disk by voicebot.speechgen."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from voicebot import speechgen  # noqa: E402


@pytest.fixture(scope="session")
def speak():
    """speak(text, voice="piper", channel=speechgen.CLEAN) → Path of a cached WAV."""
    return speechgen.speak


@pytest.fixture(scope="session")
def telephone():
    return speechgen.TELEPHONE
