"""How many real-time calls one process holds: N paced calls at once (one thread each, its own
Session and store, one shared Stack as in `voicebot serve`), started 0.7 s apart as calls arrive.
`concurrent_calls` is the largest N up to which every level kept turn latency p95 ≤ 1 s. Levels go
on to at least two (so memory per call is measured even when one call is over the limit); memory per extra
call is the process's peak resident size at the largest level against one call, same run.

scripts/bench_concurrency.py measures the same over SIP/RTP against a `voicebot serve` worker."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from voicebot.bench.latency import Material, one_call, pct

P95_LIMIT_MS = 1000.0
STAGGER_S = 0.7


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def level(stack: Any, flow: Any, mat: Material, n: int) -> dict:
    """N calls at once; call k says mat.calls[k % len]. Peak RSS sampled every 0.2 s."""
    turns: list[dict] = []
    errors: list[str] = []
    peak = [rss_mb()]
    running = threading.Event()
    running.set()

    def call(k: int) -> None:
        time.sleep(STAGGER_S * k)
        try:
            turns.extend(one_call(stack, flow, mat.calls[k % len(mat.calls)], False, []))
        except Exception as exc:  # a call that breaks counts against the level, the others go on
            errors.append(f"{type(exc).__name__}: {exc}")

    def watch() -> None:
        while running.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, name="bench-rss", daemon=True)
    watcher.start()
    threads = [threading.Thread(target=call, args=(k,), name=f"bench-call-{k}") for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    running.clear()
    watcher.join()
    expected = sum(len(mat.calls[k % len(mat.calls)]) for k in range(n))
    latencies = [t["latency_ms"] for t in turns]
    return {"calls": n, "turns": len(turns), "turns_expected": expected, "errors": errors,
            "p50_ms": pct(latencies, 50), "p95_ms": pct(latencies, 95), "peak_rss_mb": round(peak[0], 1)}


def concurrent(stack: Any, flow: Any, mat: Material, levels: list[int]) -> dict:
    steps, best, passing = [], 0, True
    for n in levels:
        step = level(stack, flow, mat, n)
        steps.append(step)
        ok = not step["errors"] and step["turns"] == step["turns_expected"] and step["p95_ms"] is not None \
            and step["p95_ms"] <= P95_LIMIT_MS
        passing = passing and ok
        best = n if passing else best
        if len(steps) >= 2 and not passing:
            break  # past the limit: more calls only measure the queue
    first, last = steps[0], steps[-1]
    per_call = (last["peak_rss_mb"] - first["peak_rss_mb"]) / (last["calls"] - first["calls"]) \
        if last["calls"] > first["calls"] else None
    return {"concurrent_calls": best, "p95_limit_ms": P95_LIMIT_MS,
            "rss_mb_per_call": round(per_call, 2) if per_call is not None else None, "steps": steps}
