"""`voicebot transcribe`: results per file, --json, --eval WER, and every kind of bad input
reported on one line naming the file while the batch goes on (exit 2, never a traceback)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import voicebot.cli.transcribe
from voicebot.audio.types import Audio
from voicebot.audio.wavio import read_wav, write_wav
from voicebot.cli.app import app
from voicebot.speechgen import TELEPHONE, with_silence

pytestmark = pytest.mark.slow  # runs the default recogniser


@pytest.fixture(scope="module")
def runner():
    from voicebot.cli import _load_commands

    _load_commands()  # the full command set, as the console script has it (Typer treats a lone command differently)
    return CliRunner()


@pytest.fixture(scope="module")
def lost_card(speak, tmp_path_factory):
    """A caller's sentence over the telephone channel, copied where the manifest can find it."""
    folder = tmp_path_factory.mktemp("calls")
    return shutil.copy(speak("I lost my card", "flite:slt", TELEPHONE), folder / "lost_card.wav")


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "notes.wav").write_text("this is not audio")
    (d / "empty.wav").write_bytes(b"")
    sf.write(d / "g721.wav", np.zeros(8000), 8000, subtype="G721_32", format="WAV")
    write_wav(d / "silent.wav", Audio.silence(1.0))
    return {
        "missing": (d / "missing.wav", "no such file"),
        "not a WAV": (d / "notes.wav", "not a WAV file"),
        "empty": (d / "empty.wav", "empty file"),
        "unsupported": (d / "g721.wav", "unsupported WAV encoding G721_32"),
        "silent": (d / "silent.wav", "silent recording"),
    }


@pytest.fixture(scope="module")
def truncated(lost_card, tmp_path_factory):
    out = tmp_path_factory.mktemp("trunc") / "truncated.wav"
    out.write_bytes(lost_card.read_bytes()[:40])  # header cut before the data chunk
    return out


def test_single_file_json(runner, lost_card):
    res = runner.invoke(app, ["transcribe", str(lost_card), "--json"])
    assert res.exit_code == 0, res.output
    [row] = json.loads(res.stdout)
    assert row["file"] == str(lost_card) and row["error"] is None
    assert "lost" in row["text"].lower() and "card" in row["text"].lower()
    assert row["duration"] == pytest.approx(read_wav(lost_card).duration, abs=0.01)
    assert row["processing_seconds"] > 0 and row["rtf"] == pytest.approx(row["processing_seconds"] / row["duration"], rel=0.05)


def test_table_output(runner, lost_card):
    res = runner.invoke(app, ["transcribe", str(lost_card)])
    assert res.exit_code == 0, res.output
    assert "RTF" in res.stdout and "processing s" in res.stdout
    assert "lost" in res.stdout.lower() and "error" not in res.output


def test_backend_option_selects_the_recogniser(runner, lost_card):
    res = runner.invoke(app, ["transcribe", str(lost_card), "--backend", "pocketsphinx", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["text"].strip()


@pytest.mark.parametrize("kind", ["missing", "not a WAV", "empty", "unsupported", "silent"])
def test_bad_input_is_one_line_naming_file_and_problem(runner, bad_files, kind):
    path, problem = bad_files[kind]
    res = runner.invoke(app, ["transcribe", str(path)])
    assert res.exit_code == 2
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(path) in lines[0] and problem in lines[0], res.stderr
    assert "Traceback" not in res.output


def test_truncated_wav_is_reported(runner, truncated):
    res = runner.invoke(app, ["transcribe", str(truncated)])
    assert res.exit_code == 2 and str(truncated) in res.stderr and "WAV" in res.stderr


def test_batch_goes_on_past_bad_files(runner, lost_card, bad_files, truncated):
    paths = [str(bad_files["missing"][0]), str(lost_card), str(truncated), str(bad_files["silent"][0])]
    res = runner.invoke(app, ["transcribe", *paths, "--json"])
    assert res.exit_code == 2
    rows = json.loads(res.stdout)
    assert [r["file"] for r in rows] == paths
    assert [r["error"] is None for r in rows] == [False, True, False, False]
    assert "card" in rows[1]["text"].lower()
    assert len([line for line in res.stderr.splitlines() if "error:" in line]) == 3


def test_long_recording_is_split_and_joined(runner, speak, tmp_path):
    sentences = ["I lost my card", "what is my balance", "I want to talk to an agent"]
    audio = with_silence([speak(s, "flite:slt") for s in sentences * 3], gap_s=1.5)
    assert audio.duration > voicebot.cli.transcribe.LONG_RECORDING_S
    path = write_wav(tmp_path / "long_call.wav", audio)
    res = runner.invoke(app, ["transcribe", str(path), "--json"])
    assert res.exit_code == 0, res.output
    text = json.loads(res.stdout)[0]["text"].lower()
    assert text.count("card") >= 2 and text.count("balance") >= 2 and text.count("agent") >= 2, text


def test_eval_manifest_reports_wer(runner, lost_card, bad_files):
    manifest = lost_card.parent / "manifest.jsonl"
    manifest.write_text(json.dumps({"file": lost_card.name, "text": "I lost my card"}) + "\n"
                        + json.dumps({"file": "nothing_here.wav", "text": "hello"}) + "\n")
    res = runner.invoke(app, ["transcribe", "--eval", str(manifest), "--json"])
    assert res.exit_code == 2  # one listed file is missing: reported, the rest still scored
    report = json.loads(res.stdout)
    good, missing = report["results"]
    assert (report["files"], report["errors"]) == (2, 1)  # counted as an error, not as absent
    assert good["reference"] == "I lost my card" and 0.0 <= good["wer"] <= 0.25
    assert missing["error"] and "nothing_here.wav" in missing["error"] and missing["wer"] is None
    # the unread file's one reference word counts as an error: (errors of 4 words + 1) / 5 words
    assert report["wer"] == round((good["wer"] * 4 + 1) / 5, 4)
    table = runner.invoke(app, ["transcribe", "--eval", str(manifest)])
    assert "overall WER" in table.stdout and "1 of 2 files could not be read" in table.stdout


def test_malformed_manifest_names_file_and_line(runner, tmp_path):
    manifest = tmp_path / "bad.jsonl"
    manifest.write_text('{"file": "a.wav", "text": "x"}\n{"file": "b.wav"}\n')
    res = runner.invoke(app, ["transcribe", "--eval", str(manifest)])
    assert res.exit_code == 2 and f"{manifest}:2" in res.stderr


def test_unknown_backend_and_no_files(runner, lost_card):
    res = runner.invoke(app, ["transcribe", str(lost_card), "--backend", "nope"])
    assert res.exit_code == 2 and "unknown ASR backend 'nope'" in res.stderr
    res = runner.invoke(app, ["transcribe"])
    assert res.exit_code == 2 and "WAV" in res.stderr
