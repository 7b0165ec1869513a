"""How many real-time calls one process holds: N paced calls at once (one thread each, its own
Session, one shared Stack and one store as in `voicebot serve`), started 0.7 s apart as calls
arrive. Each level runs until it has at least `min_turns` caller turns (its calls go round again, at
most MAX_ROUNDS times),
so its p95 ranks enough turns to mean something. `concurrent_calls` is the largest N up to which
every level kept turn latency p95 ≤ 1 s; when the first level fails, levels go down (halving) until
one passes. Levels go on to at least two (so memory per call is measured even when one call is
over the limit); memory per extra call is the process's peak resident size at the largest level
against the smallest, same run. Each level also reports the process CPU seconds per caller turn
(every stage and the audio path of every call: robust to other jobs on the machine, unlike wall
time) and the sizes of the batches the shared decoder ran.

scripts/bench_concurrency.py measures the same over SIP/RTP against a `voicebot serve` worker."""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from voicebot.bench.latency import STAGES, Material, paced_call, pct, session_for

P95_LIMIT_MS = 1000.0
STAGGER_S = 0.7
MIN_TURNS = 20
MAX_ROUNDS = 2  # a small level goes round at most this often (the benchmark's time budget)


def rss_mb() -> float:
    from voicebot.pipeline.workers import resident_bytes  # the one reader of /proc/self/statm

    return resident_bytes() / 2**20


def level(stack: Any, flow: Any, mat: Material, n: int, min_turns: int = MIN_TURNS) -> dict:
    """N calls at once; call k says mat.calls[k % len], again until the level has `min_turns`
    turns. Peak RSS sampled every 0.2 s."""
    from voicebot.evalcalls import fresh_store

    per_round = sum(len(mat.calls[k % len(mat.calls)]) for k in range(n))
    rounds = min(MAX_ROUNDS, max(1, math.ceil(min_turns / per_round)))
    turns: list[dict] = []
    errors: list[str] = []
    peak = [rss_mb()]
    running = threading.Event()
    running.set()
    batches = getattr(stack.recognizer, "batches", [])
    decoded_before = len(batches)
    with tempfile.TemporaryDirectory(prefix="voicebot-bench-") as tmp:
        store = fresh_store(Path(tmp))  # made here: one store for the level's calls, as a worker has

        def call(k: int) -> None:
            time.sleep(STAGGER_S * k)
            for _ in range(rounds):
                try:
                    session = session_for(stack, flow, store, False, Path(tmp))
                    turns.extend(paced_call(session, mat.calls[k % len(mat.calls)], []))
                except Exception as exc:  # a call that breaks counts against the level, the others go on
                    errors.append(f"{type(exc).__name__}: {exc}")

        def watch() -> None:
            while running.is_set():
                peak[0] = max(peak[0], rss_mb())
                time.sleep(0.2)

        watcher = threading.Thread(target=watch, name="bench-rss", daemon=True)
        watcher.start()
        cpu = time.process_time()
        threads = [threading.Thread(target=call, args=(k,), name=f"bench-call-{k}") for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu = time.process_time() - cpu
        running.clear()
        watcher.join()
        store.engine.dispose()
    latencies = [t["latency_ms"] for t in turns]
    return {"calls": n, "turns": len(turns), "turns_expected": per_round * rounds, "errors": errors,
            "p50_ms": pct(latencies, 50), "p95_ms": pct(latencies, 95), "peak_rss_mb": round(peak[0], 1),
            "cpu_s_per_turn": round(cpu / len(turns), 3) if turns else None,
            "asr_p50_ms": pct([t["asr_ms"] for t in turns if "asr_ms" in t], 50),
            "stages_p50_ms": {k: pct([t[k] for t in turns if k in t], 50) for k in STAGES},
            "decode_batches": dict(sorted(Counter(batches[decoded_before:]).items())),
            # speculative decodes at pauses included: more than 1 means the caller went on after one
            "decodes_per_turn": round(sum(batches[decoded_before:]) / len(turns), 2) if turns and batches else None,
            "load_average_1min": round(os.getloadavg()[0], 2)}


def _passed(step: dict) -> bool:
    return not step["errors"] and step["turns"] == step["turns_expected"] and step["p95_ms"] is not None \
        and step["p95_ms"] <= P95_LIMIT_MS


def concurrent(stack: Any, flow: Any, mat: Material, levels: list[int], min_turns: int = MIN_TURNS) -> dict:
    def run(n: int) -> dict:
        return level(stack, flow, mat, n, min_turns=min_turns)

    steps = [run(levels[0])]
    best = levels[0] if _passed(steps[0]) else 0
    if best:
        for n in levels[1:]:
            steps.append(run(n))
            if not _passed(steps[-1]):
                break  # past the limit: more calls only measure the queue
            best = n
    else:  # the smallest planned level failed: find the largest smaller one that holds
        n = levels[0] // 2
        while n >= 1 and not best:
            steps.append(run(n))
            best = n if _passed(steps[-1]) else 0
            n //= 2
    if len(steps) < 2 and len(levels) > 1:  # memory per call needs two levels
        steps.append(run(levels[1]))
    low, high = min(steps, key=lambda s: s["calls"]), max(steps, key=lambda s: s["calls"])
    per_call = (high["peak_rss_mb"] - low["peak_rss_mb"]) / (high["calls"] - low["calls"]) \
        if high["calls"] > low["calls"] else None
    return {"concurrent_calls": best, "p95_limit_ms": P95_LIMIT_MS, "min_turns_per_level": min_turns,
            "rss_mb_per_call": round(per_call, 2) if per_call is not None else None, "steps": steps}
