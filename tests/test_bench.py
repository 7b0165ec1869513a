"""`voicebot bench`: the keyword baseline, the paced turn-latency and barge-in probe against the
blocking path, the concurrency step's rule, and a whole (shrunk) run through the CLI printing the JSON keys the issue names and writing bench/ files. Speed is not asserted:
figures depend on the machine; the tests check that each is measured and plausible."""

from __future__ import annotations

import json
import math
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


def test_percentiles_skip_prompts_that_never_stopped():
    from voicebot.bench.latency import pct, summarise

    assert pct([100.0, float("nan"), 300.0], 50) == 200.0
    assert pct([float("nan")], 95) is None  # the blocking path: no barge-in stop to rank
    s = summarise([{"latency_ms": 700.0, "asr_ms": 200.0, "speculative": True}, {"latency_ms": 900.0}],
                  [float("nan")], [5.0, 40.0])
    assert s["turn_latency_p50_ms"] == 800.0 and s["barge_in_stop_ms_p95"] is None
    assert s["stages_p50_ms"]["asr_ms"] == 200.0 and s["speculative_share"] == 0.5
    assert s["audio_path_stall_ms_max"] == 40.0


def test_concurrency_counts_levels_up_to_the_first_over_the_limit(monkeypatch):
    from voicebot.bench import concurrency

    measured = {1: (600.0, 700.0), 2: (800.0, 1300.0), 4: (700.0, 900.0), 6: (2000.0, 3000.0)}

    def fake_level(stack, flow, mat, n, min_turns=20):
        return {"calls": n, "turns": 3 * n, "turns_expected": 3 * n, "errors": [], "p50_ms": measured[n][0],
                "p95_ms": measured[n][1], "peak_rss_mb": 600.0 + 10 * n}

    monkeypatch.setattr(concurrency, "level", fake_level)
    out = concurrency.concurrent(None, None, None, [1, 2, 4, 6])
    assert out["concurrent_calls"] == 1  # 2 calls went over 1 s; 4 passing later does not count
    assert [s["calls"] for s in out["steps"]] == [1, 2]  # stops once a level fails
    assert out["rss_mb_per_call"] == 10.0


def test_asr_speed_is_the_median_of_timed_passes_after_a_warm_up(tmp_path, monkeypatch):
    """One pass over the quick set's 6 sentences gave RTF 0.070 and 0.088 on the same code: the
    figure is now the median of several passes after a warm-up call, every pass and the spread
    beside it. Scripted clocks: the second pass met a spell of other work (10x slower)."""
    import numpy as np

    from voicebot.asr import base
    from voicebot.asr.testsets import Utterance
    from voicebot.audio import Audio, write_wav
    from voicebot.bench import speed

    utts = [Utterance(write_wav(tmp_path / f"{i}.wav", Audio(np.zeros(8000, np.int16), 8000)), "yes") for i in range(2)]
    clock = {"wall": 0.0, "cpu": 0.0}
    per_call = iter([0.0] + [0.1, 0.1] + [1.0, 1.0] + [0.2, 0.2])  # the warm-up call, then pass by pass

    class Recogniser:
        def transcribe(self, audio, hints):
            step = next(per_call)
            clock["wall"] += step
            clock["cpu"] += step / 2
            return type("T", (), {"text": "yes"})()

    class Clocks:
        perf_counter = staticmethod(lambda: clock["wall"])
        process_time = staticmethod(lambda: clock["cpu"])

    monkeypatch.setattr(base, "get_recognizer", lambda name: Recogniser())
    monkeypatch.setattr(speed, "time", Clocks)
    out = speed.asr(utts, ["fake"], baseline=False, passes=3)["fake"]
    assert out["rtf_passes"] == [0.1, 1.0, 0.2]  # 2 s of audio a pass; the warm-up call is not timed
    assert out["rtf"] == 0.2 and out["rtf_spread"] == [0.1, 1.0]  # the median pass, not the slow one
    assert out["cpu_rtf"] == 0.1 and out["passes"] == 3
    assert out["same_text_every_pass"] and out["wer"] == 0.0


@pytest.mark.slow
@pytest.mark.realtime  # the barge-in is paced at 1x: under load the blocking greeting ended first once
def test_paced_call_measures_each_turn_and_barge_in_against_the_blocking_path():
    from voicebot.bench import latency
    from voicebot.flow import load_flow
    from voicebot.pipeline import Stack

    flow = load_flow(ROOT / "flows" / "bank.yml")
    stack = Stack.load(asr="whisper", tts="piper")
    mat = latency.material((("what time does the branch open on saturday",),))
    turns = latency.one_call(stack, flow, mat.calls[0], False, stalls := [])
    assert len(turns) == 1 and turns[0]["latency_ms"] > 0  # answered, never before the caller stopped
    # the stages (TurnTiming's marks, the prompt's lead, the read) account for every millisecond
    assert sum(turns[0][k] for k in latency.STAGES) == pytest.approx(turns[0]["latency_ms"], abs=1.0)
    assert all(-60 <= turns[0][k] <= turns[0]["latency_ms"] for k in latency.STAGES)  # marks on one clock
    assert turns[0]["endpoint_ms"] > 0 and turns[0]["lead_ms"] >= 0
    assert len(stalls) > 100  # one push+read per line frame (latency.LINE_FRAME_MS) of the call
    realtime = latency.one_barge_in(stack, flow, mat.barge, blocking=False)
    assert not math.isnan(realtime) and realtime > 0  # the caller's words stop the greeting
    assert math.isnan(latency.one_barge_in(stack, flow, mat.barge, blocking=True))  # it plays to the end


@pytest.mark.slow
def test_quick_bench_json_through_the_cli(tmp_path, monkeypatch):
    from voicebot.bench import latency, runner
    from voicebot.cli import _load_commands
    from voicebot.cli.app import app

    monkeypatch.setattr(latency, "CALLS", (("what time does the branch open on saturday",),))  # one short call
    tiny = runner.Plan(latency_calls=1, concurrency_levels=(1, 2), asr_backends=("whisper",), asr_sets=("piper",),
                       asr_every=12, nlu_every=8, intent_backends=("whisper",), intent_voice="piper",
                       intent_every=26, hold_calls=3, concurrency_min_turns=1)
    monkeypatch.setattr(runner, "QUICK", tiny)  # the same steps on less data: CI time
    _load_commands()
    result = CliRunner().invoke(app, ["bench", "--quick", "--json", "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    for key in KEYS:
        assert data[key] is not None, key
    assert data["concurrent_calls"] in (0, 1, 2)
    assert [s["calls"] for s in data["details"]["concurrency"]["steps"]] == [1, 2]  # memory needs two levels
    assert data["details"]["concurrency"]["steps"][1]["turns"] == 2  # both calls answered
    blocking = data["details"]["turn_latency"]["baseline_blocking"]
    assert data["baselines"]["turn_latency_p95_ms"]["value"] == blocking["turn_latency_p95_ms"] > 0
    assert data["barge_in_stop_ms_p95"] > 0 and data["baselines"]["barge_in_stop_ms_p95"]["value"] is None
    # per call from one level of 1 call and one of 2: a buffer the first level grew and the second
    # did not shows as a slope of tens of MB either way (-25 in one fresh-clone run), so this bounds
    # units and sign sense only; the figure itself comes from the full bench's levels
    assert 100 < data["rss_mb_start"] < 4000 and -100 < data["rss_mb_per_call"] < 200 and data["cold_start_s"] > 0.5
    assert data["cold_start_first_s"] > 0.5 and len(data["details"]["memory"]["starts_s"]) == 2  # first start apart
    assert set(data["wer"]) == {"whisper", "faster-whisper (packaged defaults)"} and data["wer"]["whisper"] < 0.5
    assert data["baselines"]["asr_rtf"]["value"] > 0 and data["baselines"]["nlu_ms_per_utterance"]["name"] == "keyword matching"
    low, high = data["asr_rtf_spread"]
    assert low <= data["asr_rtf"] <= high and data["details"]["asr"]["whisper"]["same_text_every_pass"]
    assert data["intent_accuracy"]["trained on telephone_asr"] > data["intent_accuracy"]["keywords on telephone_asr"]
    assert data["machine"]["cores"] >= 1
    saved = list(tmp_path.glob("*-quick.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["cold_start_s"] == data["cold_start_s"]
    assert "| turn latency p95 (ms) |" in (tmp_path / "latest.md").read_text()
    assert "| ASR real-time factor of each pass" in (tmp_path / "latest.md").read_text()
