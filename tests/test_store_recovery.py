"""kill -9 during a real `voicebot replay` call: the call's header and turns so far are in the
store; the next start (here `voicebot report`) closes it as abandoned and counts it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from voicebot.store import open_store

ROOT = Path(__file__).resolve().parents[1]
VOICEBOT = [sys.executable, "-m", "voicebot"]


@pytest.mark.slow
def test_a_call_killed_mid_way_is_closed_as_abandoned_on_the_next_start(tmp_path):
    db = str(tmp_path / "crash.db")
    subprocess.run([*VOICEBOT, "db", "init", "--demo", "--db", db], cwd=ROOT, check=True, capture_output=True)
    demo = sorted(str(p) for p in (ROOT / "audio" / "demo").glob("*.wav"))
    call = subprocess.Popen([*VOICEBOT, "replay", *demo, "--caller-id", "+15551230001", "--tts", "none",
                             "--db", db], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store = open_store(db)
    try:
        deadline = time.monotonic() + 300
        while not any(c.get("turns") for c in store.live_calls()):  # the call is under way
            assert call.poll() is None and time.monotonic() < deadline, call.stderr.read()
            time.sleep(0.05)
        call.send_signal(signal.SIGKILL)
        call.wait(timeout=30)
    finally:
        call.kill()
    [left] = store.calls()
    assert left.get("outcome") is None and left["turns"]  # what was said so far survived
    report = subprocess.run([*VOICEBOT, "report", "--json", "--db", db], cwd=ROOT, capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["outcomes"] == {"abandoned": 1}
    [closed] = store.calls()
    assert closed["outcome"] == "abandoned" and closed["handle_seconds"] >= 0 and closed["turns"]
