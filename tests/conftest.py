"""Shared test fixtures. Models load once per test session (the registries cache instances);
synthesized caller audio is cached on disk by voicebot.speechgen."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _cpu_has(flag: str) -> bool:
    try:
        return any(line.startswith("flags") and flag in line.split()
                   for line in open("/proc/cpuinfo", encoding="ascii", errors="replace"))
    except OSError:
        return False


# One kernel path for Whisper (CTranslate2) on every x86-64 test machine: oneDNN rather than MKL
# (which CTranslate2 picks on Intel only) and AVX2 rather than AVX-512. Kernels round differently,
# and a word heard differently on another CPU must not change what a test sees. Set before
# ctranslate2 is imported; subprocesses (CLI tests) inherit it.
os.environ.setdefault("CT2_USE_MKL", "0")
if _cpu_has("avx2"):
    os.environ.setdefault("CT2_FORCE_CPU_ISA", "AVX2")
    os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

from voicebot import speechgen  # noqa: E402


@pytest.fixture(scope="session")
def speak():
    """speak(text, voice="piper", channel=speechgen.CLEAN) → Path of a cached WAV."""
    return speechgen.speak


@pytest.fixture(scope="session")
def telephone():
    return speechgen.TELEPHONE


# Tests whose assertions ride on wall-clock behaviour (a PulseAudio sink played at 1x, SIP calls
# at line rate, a jitter buffer's waits): scripts/test.sh runs them on their own, after the rest
# of the suite has run on two xdist workers, so nothing of the suite competes with them for the
# CPU. A new file of that kind either matches a prefix below or carries `pytest.mark.realtime`.
REALTIME_PREFIXES = ("test_sip_", "test_mic_", "test_pulse_")
NOT_REALTIME = {"test_sip_bench.py", "test_mic_view.py"}  # arithmetic on logs, a terminal view


# The files that take longest on a fresh clone (the --durations of a whole run with an empty
# VOICEBOT_CACHE), longest first: the xdist pass (--dist loadfile --no-loadscope-reorder) hands
# files out in this order, so the longest starts at once and the short ones fill in beside it.
LONGEST_FIRST = ("test_nlu_measure.py", "test_bench.py", "test_soak.py", "test_asr_backends.py",
                 "test_conversation_audio.py", "test_nlu_model.py", "test_asr_batching.py",
                 "test_calls_audio.py", "test_web_browser.py", "test_cli_calls.py", "test_smart_turn.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.name
        if name.startswith(REALTIME_PREFIXES) and name not in NOT_REALTIME:
            item.add_marker(pytest.mark.realtime)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept otherwise
