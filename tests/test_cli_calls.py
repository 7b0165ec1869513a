"""`voicebot replay` / `report` as a user runs them: the console script, JSON out, stereo call
audio, KPIs over the stored calls, and bad input as one line with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voicebot.audio import read_wav
from secret_support import without_random_hex

ROOT = Path(__file__).resolve().parents[1]
VOICEBOT = [sys.executable, "-m", "voicebot"]
LOST_CARD = ["I lost my debit card", "1 2 3 4 5 6 7 8", "2468", "no that's all thanks", "five"]


def run(*args: str, db: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*VOICEBOT, *args, "--db", str(db)] if args[0] != "report" else [*VOICEBOT, *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.mark.slow
def test_text_replay_then_report(tmp_path):
    db = tmp_path / "calls.db"
    assert run("db", "init", "--demo", db=db).returncode == 0  # a user's database has no demo customers
    done = run("replay", "--text", *LOST_CARD, "--caller-id", "+15551230001", "--json", "-", db=db)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert (record["outcome"], record["csat"], record["authenticated"]) == ("self_service", 5, True)
    assert "2468" not in without_random_hex(done.stdout) and "12345678" not in done.stdout
    angry = run("replay", "--text", "this is a disgrace, I am furious, you people are useless", db=db)
    assert angry.returncode == 0, angry.stderr
    report = run("report", "--json", "--db", str(db), db=db)
    assert report.returncode == 0, report.stderr
    kpis = json.loads(report.stdout)
    assert kpis["calls"] == 2 and kpis["outcomes"] == {"escalated": 1, "self_service": 1}
    assert kpis["csat_avg"] == 5.0 and kpis["containment"] == 0.5
    assert kpis["escalations_by_reason"] == {"negative_sentiment": 0.5}


@pytest.mark.slow
def test_audio_replay_writes_stereo_call(tmp_path):
    db, out = tmp_path / "calls.db", tmp_path / "calls"
    assert run("db", "init", "--demo", db=db).returncode == 0
    demo = sorted(str(p) for p in (ROOT / "audio" / "demo").glob("*.wav"))
    done = run("replay", *demo, "--caller-id", "+15551230001", "--json", str(tmp_path / "r.json"),
               "--audio-out", str(out), db=db)
    assert done.returncode == 0, done.stderr
    assert "2468" not in without_random_hex(done.stdout) and "12345678" not in done.stdout  # the PIN never reaches the screen
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["outcome"] == "self_service" and record["turns"][1]["caller"]["intent"] == "report_lost_card"
    wav = read_wav(out / f"{record['call_id']}.wav")
    assert wav.channels == 2
    caller, bot = np.abs(wav.samples[:, 0]).astype(float), np.abs(wav.samples[:, 1]).astype(float)
    assert caller.mean() > 50 and bot.mean() > 50  # both sides are heard
    assert np.mean((caller > 300) & (bot > 300)) < 0.01  # turn by turn, not on top of each other


@pytest.mark.parametrize(
    "args,message",
    [
        (["replay", "nowhere.wav"], "nowhere.wav: no such file"),
        (["replay", "--text", "hi", "--flow", "{bad}"], "bad.yml"),
        (["replay", "README.md"], "README.md: not a WAV file"),
        (["replay", "--backend", "nosuch", "audio/demo/01.wav"], "unknown ASR backend 'nosuch'"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    bad_flow = tmp_path / "bad.yml"
    bad_flow.write_text("name: x\nstart: nowhere\nstates:\n  a: {say: hi\n")
    args = [a.replace("{bad}", str(bad_flow)) for a in args]
    done = run(*args, db=tmp_path / "x.db")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2
