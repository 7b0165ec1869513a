"""Property-based tests (Hypothesis): whatever bytes or YAML a user hands the WAV reader, the
intent loader or the flow loader, the only exception that comes out is a VoicebotError, and its
message names the file (and the line, for data files a user edits).

Runs derandomized (the same examples on every machine, so CI never flakes on a new seed); set
HYPOTHESIS_PROFILE=explore to search with fresh random examples."""

from __future__ import annotations

import os
import re
import struct
import tempfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicebot.audio import read_wav
from voicebot.errors import AudioError, ConfigError
from voicebot.flow.loader import load_flow_spec, parse_flow_text
from voicebot.nlu.dataset import load_intents_dir, load_rows

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=200,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
BANK = (ROOT / "flows" / "bank.yml").read_text(encoding="utf-8")
INTENTS = (ROOT / "intents" / "cards.yml").read_text(encoding="utf-8")


_WORK = tempfile.TemporaryDirectory(prefix="voicebot-hyp")  # removed when the module is freed


def _file(name: str, content: bytes) -> Path:
    """The example's file, alone in its folder (Hypothesis runs many examples per test call, so
    pytest's per-test tmp_path does not fit; examples run one after another)."""
    folder = Path(_WORK.name) / name
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def _read(path: Path) -> None:
    try:
        audio = read_wav(path)
    except AudioError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
        return
    # what does load is real audio: samples, a sane rate, channels that match the array
    assert audio.num_samples > 0 and 0 < audio.rate <= 384_000
    assert audio.samples.dtype == np.int16
    assert audio.channels == (1 if audio.samples.ndim == 1 else audio.samples.shape[1])


# ---- WAV reader -----------------------------------------------------------------------------
@given(st.binary(max_size=2048))
def test_wav_reader_on_arbitrary_bytes(content):
    _read(_file("x.wav", content))


@given(st.binary(max_size=512))
def test_wav_reader_on_bytes_after_a_riff_header(rest):
    _read(_file("x.wav", b"RIFF" + struct.pack("<I", len(rest) + 4) + b"WAVE" + rest))


header_fields = st.fixed_dictionaries({
    "tag": st.sampled_from([1, 3, 6, 7, 2, 0x11, 0x31, 0x40, 0x55, 0xFFFE]) | st.integers(0, 0xFFFF),
    "channels": st.sampled_from([1, 2]) | st.integers(0, 0xFFFF),
    "rate": st.sampled_from([8000, 16000, 48000]) | st.integers(0, 0xFFFFFFFF),
    "bits": st.sampled_from([8, 16, 24, 32, 64]) | st.integers(0, 0xFFFF),
    "block": st.none() | st.integers(0, 0xFFFF),
    "data_size": st.none() | st.sampled_from([0, 1, 0xFFFFFFFF, 1 << 30]) | st.integers(0, 0xFFFFFFFF),
    "riff_size": st.none() | st.integers(0, 0xFFFFFFFF),
    "data": st.binary(max_size=4096),
    "extra": st.binary(max_size=40),
    "cut": st.none() | st.integers(1, 120),
})


@given(header_fields)
def test_wav_reader_on_headers_whose_fields_lie(f):
    block = f["block"] if f["block"] is not None else (f["channels"] * f["bits"] // 8) & 0xFFFF
    fmt = struct.pack("<HHIIHH", f["tag"], f["channels"], f["rate"], (f["rate"] * block) & 0xFFFFFFFF,
                      block, f["bits"]) + f["extra"]
    size = len(f["data"]) if f["data_size"] is None else f["data_size"]
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + f["data"]
    riff = b"RIFF" + struct.pack("<I", len(body) if f["riff_size"] is None else f["riff_size"]) + body
    _read(_file("x.wav", riff[: f["cut"]] if f["cut"] else riff))


@given(st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), min_size=1, max_size=6))
def test_wav_reader_on_a_real_wav_with_flipped_header_bytes(flips):
    samples = (np.sin(np.arange(800) / 5) * 9000).astype("<i2")
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, 8000, subtype="PCM_16", format="WAV")
    content = bytearray(buf.getvalue())
    for pos, value in flips:
        content[pos] = value
    _read(_file("x.wav", bytes(content)))


# ---- flow loader ----------------------------------------------------------------------------
FILE_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): \S")


def _flow(text: str) -> None:
    try:
        parse_flow_text(text, "flow.yml", intents=None)
    except ConfigError as exc:
        m = FILE_LINE.match(str(exc))
        assert m and m["file"] == "flow.yml", str(exc)
        assert 1 <= int(m["line"]) <= max(text.count("\n") + 2, 1), str(exc)


@given(st.text(max_size=400))
def test_flow_loader_on_arbitrary_text(text):
    _flow(text)


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200) | st.floats(allow_nan=False, width=32)
    | st.text(max_size=20) | st.sampled_from(["{balance}", "{x}", "{", "}", "greeting", "general"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["name", "start", "states", "say", "ask", "expect", "next", "on", "requests",
                         "queues", "transfer", "queue", "hours", "messages", "agents", "weekly",
                         "escalation", "authentication", "dtmf", "greeting", "choices", "length"])
        | st.text(max_size=8), inner, max_size=5),
    max_leaves=25)


@given(yaml_values)
def test_flow_loader_on_arbitrary_yaml_structures(data):
    _flow(yaml.safe_dump(data, allow_unicode=True))


@given(st.lists(st.tuples(st.integers(0, 400), st.sampled_from(["drop", "dup", "indent", "garble"]),
                          st.text(max_size=12)), min_size=1, max_size=4))
def test_flow_loader_on_mutated_bank_flow(edits):
    lines = BANK.splitlines()
    for index, op, junk in edits:
        i = index % len(lines)
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = "  " + lines[i]
        else:
            lines[i] = lines[i][: len(lines[i]) // 2] + junk
    _flow("\n".join(lines))


@given(st.binary(max_size=300))
def test_flow_file_of_arbitrary_bytes(content):
    path = _file("flow.yml", content)
    try:
        load_flow_spec(path)
    except ConfigError as exc:
        assert str(exc).startswith(f"{path}:"), str(exc)


# ---- intent loader (voicebot/nlu/dataset.py) ------------------------------------------------
def _intents(text: str | bytes) -> None:
    path = _file("intents.yml", text.encode("utf-8") if isinstance(text, str) else text)
    try:
        load_intents_dir(path.parent)
    except ConfigError as exc:
        assert FILE_LINE.match(str(exc)) and str(exc).startswith(f"{path}:"), str(exc)


@given(st.text(max_size=300))
def test_intent_loader_on_arbitrary_text(text):
    _intents(text)


@given(st.binary(max_size=200))
def test_intent_loader_on_arbitrary_bytes(content):
    _intents(content)


intent_values = st.recursive(
    st.none() | st.integers(-3, 3) | st.text(max_size=15) | st.sampled_from(["check_balance", "- hi", ""]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["intents", "intent", "examples", "description", "route", "answer", "version"])
        | st.text(max_size=6), inner, max_size=4),
    max_leaves=20)


@given(intent_values)
def test_intent_loader_on_arbitrary_yaml_structures(data):
    _intents(yaml.safe_dump(data, allow_unicode=True))


@given(st.lists(st.tuples(st.integers(0, 200), st.text(max_size=10)), min_size=1, max_size=3))
def test_intent_loader_on_mutated_intent_file(edits):
    lines = INTENTS.splitlines()
    for index, junk in edits:
        i = index % len(lines)
        lines[i] = lines[i][: len(lines[i]) // 2] + junk
    _intents("\n".join(lines))


@given(st.text(max_size=300), st.sampled_from([".jsonl", ".csv"]))
def test_intent_rows_on_arbitrary_text(text, suffix):
    path = _file("rows" + suffix, text.encode("utf-8"))
    try:
        load_rows(path)
    except ConfigError as exc:
        assert FILE_LINE.match(str(exc)) and str(exc).startswith(f"{path}:"), str(exc)
