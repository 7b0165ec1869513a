"""The SIP concurrency benchmark's accounting (scripts/bench_concurrency.py): a turn's stages,
read from the worker's log, add up to the latency the caller measured, and each call's lines are
found by its Call-ID among other calls'."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_concurrency", ROOT / "scripts" / "bench_concurrency.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _line(call_id: str, stages: dict) -> str:
    return f"INFO:voicebot.transports.sip.call:{call_id}: turn stages {json.dumps(stages)}"


def test_stages_add_up_to_the_latency_the_caller_measured(bench):
    worker = {"ended_at": 100.9, "picked_at": 100.905, "queued_at": 101.3, "sent_at": 101.33,
              "endpoint_ms": 600, "asr_ms": 310.0, "nlu_ms": 20.0, "flow_ms": 40.0, "tts_first_ms": 5.0,
              "speculative": True}
    end, heard = 100.1, 101.36  # the caller's last loud sample, the first loud one it heard back
    parts = bench.split_turn(end, heard, worker)
    assert sum(parts[k] for k in bench.STAGES) == pytest.approx((heard - end) * 1000, abs=0.5)
    assert parts["in_ms"] == pytest.approx(200.0, abs=0.1)  # 100.1 → last voiced frame at 100.3
    assert parts["out_ms"] == pytest.approx(30.0, abs=0.1) and parts["wire_ms"] == pytest.approx(30.0, abs=0.1)
    assert parts["speculative"] is True


def test_worker_stages_are_found_by_call_id(bench, tmp_path):
    stages = {"ended_at": 1.0, "picked_at": 1.0, "queued_at": 1.2, "sent_at": 1.25, "endpoint_ms": 450,
              "asr_ms": 150.0, "nlu_ms": 10.0, "flow_ms": 5.0, "tts_first_ms": 0.2, "speculative": False}
    log = tmp_path / "worker.log"
    log.write_text("\n".join([
        "INFO:voicebot.transports.sip.server:a@h: answered (PCMU)",
        _line("a@h", stages), _line("b@h", {**stages, "asr_ms": 999.0}), _line("a@h", {**stages, "ended_at": 5.0}),
        "garbage: turn stages",
    ]))
    found = bench.worker_stages(log, {"a@h"})
    assert list(found) == ["a@h"] and [s["ended_at"] for s in found["a@h"]] == [1.0, 5.0]
