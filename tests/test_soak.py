"""A short soak in CI: three rounds of the demo bank's call suite plus typed calls (audio, DTMF,
text, silence) in one process; no call may raise or end differently, and over the third round
no file handles, threads or calls may be left behind (scripts/soak.py; the
1000-call run is `python scripts/soak.py`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_short_soak_holds_up():
    from voicebot.evalcalls import load_suite

    suite = load_suite(ROOT / "examples" / "calls")
    assert len(suite) >= 8 and sum(c.audio for c in suite) >= 7  # mostly recorded audio, as users grow it
    cases = len(suite) + 4  # + the soak's typed calls
    # two rounds of warm-up: a pool a busy machine starts only later (a wider encoder, a render
    # thread) must be running before leaks are counted, over the third round; a thread leaked by
    # any call still shows there, since every case plays again
    out = subprocess.run([sys.executable, "scripts/soak.py", "--calls", str(3 * cases), "--warmup", str(2 * cases),
                          "--json"], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    report = json.loads(out.stdout)
    # every call, the shipped suite's twice over, ended as its expect.json says (this was
    # test_eval_calls' test_shipped_suite_ends_right, a third playing of the same calls)
    assert report["errors"] == [] and report["wrong"] == []
    assert report["done"] and report["calls_run"] == 3 * cases and set(report["cases"]) >= {c.name for c in suite}
    # RSS settles only after a hundred calls or more (allocator and model arenas; scripts/soak.py
    # with 1000 calls judges it), so a short run judges leaks by objects, fds and threads instead.
    checks = {k: v for k, v in report["checks"].items() if k != "rss_growth_under_10pct"}
    warm, end = report["after_warmup"], report["end"]
    assert checks == {"no_errors": True, "calls_ended_right": True, "no_leaked_fds": True,
                      "no_leaked_threads": True, "no_leaked_calls": True}, {
        "threads": (warm["thread_names"], end["thread_names"]), "os threads": (warm["os_thread_names"], end["os_thread_names"])}
    assert report["end"]["fds"] >= 3 and report["end"]["rss_mb"] > 100  # the probes read a live process
