"""Cold start of this tree beside a baseline tree, in one run, alternating so both see the same load.

    python scripts/bench_coldstart.py --baseline DIR [--runs 3] [--json]

DIR is another checkout of voicebot (e.g. `git worktree add /tmp/base <commit>`, or `git archive
<commit> | tar -x -C DIR`). Each run measures, from a fresh process in each tree: time to ready
(voicebot.bench.probe: flow, Whisper, NLU, Piper and the flow's fixed prompts loaded; the bench's
`cold_start_s`) with RSS then, `voicebot classify`, and a one-turn `voicebot replay` (wall time
and peak RSS, as voicebot.bench.coldstart measures them), each with the CPU seconds it used (user +
system, all threads), which a shared machine inflates far less than wall time, and the ready
probe's breakdown (each step in turn; each loader Stack.load ran side by side, with its thread's
CPU seconds). Prints medians and the load average before, during (each probe) and after."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TURN = Path("examples/calls/agent_request/01.wav")


def _env(tree: Path) -> dict:
    # Each tree's own code: its root first on the path (the venv may hold an editable install).
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(tree)}


def ready(tree: Path) -> dict:
    """Seconds from process start to the probe's "ready" line, as voicebot.bench.coldstart reads it."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "voicebot.bench.probe"], cwd=tree, env=_env(tree),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = json.loads(proc.stdout.readline() or "{}")
    seconds = time.perf_counter() - started
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or first.get("event") != "ready":
        raise RuntimeError(f"{tree}: probe failed: {err[-400:]}")
    # CPU seconds (user + system, all threads, to exit): what the start costs, whatever the load.
    return {"cold_start_s": round(seconds, 2), "rss_mb": first["rss_mb"],
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "load_1min": round(os.getloadavg()[0], 2),
            # the critical path: each step of the probe in turn, and the loaders Stack.load runs side by side
            # (a tree older than this breakdown has neither)
            "stages": first.get("stages", {}), "loaders": first.get("loaders", [])}


def timed(tree: Path, args: list[str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "voicebot", *args], cwd=tree, env=_env(tree),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{tree}: voicebot {' '.join(args)} failed: {proc.stderr.read().decode()[-400:]}")
    proc.stderr.close()
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2)}


def one_run(tree: Path, tmp: Path) -> dict:
    db = tmp / f"{tree.name}.db"
    return {"ready": ready(tree),
            "classify": timed(tree, ["classify", "I lost my card", "--json"]),
            "replay_one_turn": timed(tree, ["replay", str(tree / TURN), "--db", str(db), "--json", str(db) + ".json"])}


def median(runs: list[dict], what: str, key: str) -> float:
    return round(statistics.median(r[what][key] for r in runs), 2)


def stage_medians(runs: list[dict]) -> dict:
    names = list(dict.fromkeys(k for r in runs for k in r["ready"]["stages"]))
    return {k: round(statistics.median(r["ready"]["stages"].get(k, 0.0) for r in runs), 3) for k in names}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    trees = {"this": ROOT, "baseline": args.baseline.resolve()}
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="voicebot-cold-") as tmp:
        for i in range(args.runs):
            for name in (trees if i % 2 == 0 else reversed(list(trees))):
                runs[name].append(one_run(trees[name], Path(tmp)))
                print(f"run {i + 1} {name}: {json.dumps(runs[name][-1])}", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    summary = {name: {"cold_start_s": median(r, "ready", "cold_start_s"), "ready_cpu_s": median(r, "ready", "cpu_s"),
                      "ready_stages_s": stage_medians(r),
                      "rss_mb_ready": median(r, "ready", "rss_mb"),
                      "classify_s": median(r, "classify", "seconds"), "classify_cpu_s": median(r, "classify", "cpu_s"),
                      "classify_peak_mb": median(r, "classify", "peak_rss_mb"),
                      "replay_one_turn_s": median(r, "replay_one_turn", "seconds"),
                      "replay_cpu_s": median(r, "replay_one_turn", "cpu_s"),
                      "replay_peak_mb": median(r, "replay_one_turn", "peak_rss_mb")} for name, r in runs.items()}
    report = {"runs": args.runs, "cpus": os.cpu_count(), "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in load_after], "median": summary, "all": runs,
              "trees": {k: str(v) for k, v in trees.items()}}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.runs} runs each, alternating; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
        for name, s in summary.items():
            print(f"{name:9} ready {s['cold_start_s']} s, {s['ready_cpu_s']} CPU s ({s['rss_mb_ready']} MB)  "
                  f"classify {s['classify_s']} s, {s['classify_cpu_s']} CPU s ({s['classify_peak_mb']} MB)  "
                  f"replay one turn {s['replay_one_turn_s']} s, {s['replay_cpu_s']} CPU s ({s['replay_peak_mb']} MB)")
            if s["ready_stages_s"]:
                print(f"{'':9} ready = " + " + ".join(f"{k} {v}" for k, v in s["ready_stages_s"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
