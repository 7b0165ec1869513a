"""`voicebot bench`: the keyword baseline, the turn-latency probe, and a whole (shrunk) run through
the CLI printing the JSON keys the issue names and writing bench/ files. Speed is not asserted:
figures depend on the machine; the tests check that each is measured and plausible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voicebot.bench.keywords import KeywordClassifier

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("turn_latency_p50_ms", "turn_latency_p95_ms", "asr_rtf", "nlu_ms_per_utterance", "concurrent_calls",
        "rss_mb_start", "rss_mb_per_call", "cold_start_s")


def test_keyword_baseline_matches_words_not_meaning():
    kw = KeywordClassifier.from_intents()
    assert kw.classify("what's the balance on my account") == "check_balance"
    assert kw.classify("I lost my card") == "report_lost_card"
    assert kw.classify("zebra quantum marmalade") == "out_of_scope"


def test_machine_is_described():
    from voicebot.bench.machine import describe

    m = describe()
    assert m["cores"] >= 1 and m["ram_gb"] > 0 and m["cpu"]
    assert "ctranslate2" in m["versions"] and m["python"].count(".") == 2


@pytest.mark.slow
def test_turn_latency_probe_measures_each_answered_turn():
    from voicebot.bench.latency import measure_call
    from voicebot.evalcalls import fresh_store, load_suite
    from voicebot.flow import load_flow
    from voicebot.pipeline import Stack

    case = next(c for c in load_suite(ROOT / "examples" / "calls") if c.name == "balance_spoken_id")
    stack = Stack.load(asr="whisper", tts="piper")
    store = fresh_store(Path(__import__("tempfile").mkdtemp()))
    ms = measure_call(stack, load_flow(ROOT / "flows" / "bank.yml"), case, store, pace=8.0)
    assert len(ms) == 5  # five spoken turns, each answered with audio
    assert all(m > 0 for m in ms)  # the bot never answers before the caller stops


@pytest.mark.slow
def test_quick_bench_json_through_the_cli(tmp_path, monkeypatch):
    from voicebot.bench import runner
    from voicebot.cli import _load_commands
    from voicebot.cli.app import app

    tiny = runner.Plan(latency_calls=1, concurrency_levels=(1, 2), asr_backends=("whisper",), asr_sets=("piper",),
                       asr_every=12, nlu_every=8, intent_backends=("whisper",), intent_voice="piper",
                       intent_every=26, hold_calls=3)
    monkeypatch.setattr(runner, "QUICK", tiny)  # the same steps on less data: CI time
    _load_commands()
    result = CliRunner().invoke(app, ["bench", "--quick", "--json", "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    for key in KEYS:
        assert data[key] is not None, key
    assert data["concurrent_calls"] in (0, 1, 2)
    assert 100 < data["rss_mb_start"] < 4000 and 0 <= data["rss_mb_per_call"] < 200 and data["cold_start_s"] > 0.5
    assert set(data["wer"]) == {"whisper", "faster-whisper (packaged defaults)"} and data["wer"]["whisper"] < 0.5
    assert data["baselines"]["asr_rtf"]["value"] > 0 and data["baselines"]["nlu_ms_per_utterance"]["name"] == "keyword matching"
    assert data["intent_accuracy"]["trained on telephone_asr"] > data["intent_accuracy"]["keywords on telephone_asr"]
    assert data["machine"]["cores"] >= 1
    saved = list(tmp_path.glob("*-quick.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["cold_start_s"] == data["cold_start_s"]
    assert "| turn latency p95 (ms) |" in (tmp_path / "latest.md").read_text()
