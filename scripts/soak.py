"""Soak: replay many calls in one process and check it does not wear out.

    python scripts/soak.py [--calls 1000] [--warmup 50] [--tts piper|none] [--json] [--out FILE]

Calls cycle through the demo bank's regression suite (examples/calls: recorded telephone audio,
DTMF, text) and a few typed calls, each through the live pipeline (VAD → Whisper → NLU → flow →
Piper prompts) on its own fresh SQLite store, as `voicebot eval --calls` runs them. Checks, after
the warm-up calls: no call raised or ended differently from its expect.json, resident memory grew
by less than 10 %, and no file handles (/proc/self/fd) or threads were left behind. Exit code 1
when a check fails; tests/test_soak.py runs a short variant in CI. With --out, the report so far is
written to FILE at every twentieth of the run ("done" false until the end), so a soak stopped early
still leaves its figures."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time
import traceback
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from voicebot.bench.probe import rss_mb  # noqa: E402
from voicebot.cache import replaced_atomically  # noqa: E402
from voicebot.evalcalls import DEFAULT_AT, CallCase, load_suite, run_case  # noqa: E402

MAX_RSS_GROWTH = 0.10
AT = datetime.fromisoformat(DEFAULT_AT)
TYPED_CALLS = (
    CallCase("typed_balance", ("what's my balance", "dtmf:12345678", "dtmf:2468", "no thanks", "dtmf:4"),
             {"outcome": "self_service", "authenticated": True, "csat": 4}, at=AT),
    CallCase("typed_lost_card_vip", ("I lost my debit card", "dtmf:87654321", "dtmf:1357", "no", "5"),
             {"outcome": "self_service", "authenticated": True, "csat": 5}, caller_id="+15551230002", at=AT),
    CallCase("typed_agent", ("I want a human",), {"outcome": "transferred", "queue": "general"}, at=AT),
    CallCase("typed_silent", ("", "", ""), {"authenticated": False}, at=AT),
)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def live_calls() -> int:
    """Sessions and call engines still reachable after their calls ended: a leak in objects, which
    shows at once, where RSS takes a hundred calls or more to settle (allocator and model arenas)."""
    from voicebot.flow import CallEngine
    from voicebot.pipeline import Session

    return sum(isinstance(o, (Session, CallEngine)) for o in gc.get_objects())


def snapshot() -> dict:
    gc.collect()
    return {"rss_mb": round(rss_mb(), 1), "fds": open_fds(), "threads": threading.active_count(),
            "os_threads": len(os.listdir("/proc/self/task")), "live_calls": live_calls(),
            "thread_names": sorted(t.name for t in threading.enumerate()), "os_thread_names": os_thread_names()}


def os_thread_names() -> list[str]:
    """Every OS thread's name (/proc/self/task/*/comm): native pools (onnxruntime, OpenMP) too."""
    names = []
    for task in os.listdir("/proc/self/task"):
        try:
            names.append(Path(f"/proc/self/task/{task}/comm").read_text().strip())
        except OSError:  # the thread ended meanwhile
            pass
    return sorted(names)


def soak(calls: int = 1000, warmup: int = 50, tts: str | None = "piper", log=None, out: Path | None = None) -> dict:
    from voicebot.flow import load_flow
    from voicebot.pipeline import Stack

    cases = load_suite(ROOT / "examples" / "calls") + list(TYPED_CALLS)
    flow = load_flow(ROOT / "flows" / "bank.yml")
    started = time.perf_counter()
    stack = Stack.load(asr="whisper", tts=tts)
    run = {"calls": calls, "warmup": warmup, "cases": [c.name for c in cases], "tts": tts,
           "after_load": snapshot(), "after_warmup": None, "errors": [], "wrong": [], "marks": [], "started": started}
    for i in range(calls):
        case = cases[i % len(cases)]
        try:
            result = run_case(case, stack, flow)
            if not result.ok:
                run["wrong"].append({"call": i, "case": case.name, "differences": result.to_dict()["differences"]})
        except Exception as exc:  # noqa: BLE001 - a soak counts every failure, it does not stop at one
            run["errors"].append({"call": i, "case": case.name, "error": f"{type(exc).__name__}: {exc}",
                                  "trace": traceback.format_exc(limit=4)})
        if i + 1 == min(warmup, calls):
            run["after_warmup"] = snapshot()
        if (i + 1) % max(1, calls // 20) == 0:
            mark = {"calls": i + 1, **snapshot()}
            run["marks"].append(mark)
            if log:
                log(f"{i + 1}/{calls} calls  rss {mark['rss_mb']} MB  fds {mark['fds']}  threads {mark['threads']}  "
                    f"live calls {mark['live_calls']}  errors {len(run['errors'])}  wrong {len(run['wrong'])}")
            if out is not None and i + 1 < calls:
                _write(out, summarize(run, mark, done=False))
    report = summarize(run, snapshot(), done=True)
    if out is not None:
        _write(out, report)
    return report


def summarize(run: dict, end: dict, done: bool) -> dict:
    warm = run["after_warmup"] or end
    growth = (end["rss_mb"] - warm["rss_mb"]) / warm["rss_mb"]
    errors, wrong = run["errors"], run["wrong"]
    checks = {
        "no_errors": not errors,
        "calls_ended_right": not wrong,
        "rss_growth_under_10pct": growth < MAX_RSS_GROWTH,
        "no_leaked_fds": end["fds"] <= warm["fds"],
        "no_leaked_threads": end["threads"] <= warm["threads"] and end["os_threads"] <= warm["os_threads"],
        "no_leaked_calls": end["live_calls"] == 0,
    }
    return {"done": done, "calls": run["calls"], "calls_run": run["marks"][-1]["calls"] if run["marks"] and not done else run["calls"],
            "warmup": run["warmup"], "cases": run["cases"], "tts": run["tts"],
            "seconds": round(time.perf_counter() - run["started"], 1), "after_load": run["after_load"],
            "after_warmup": warm, "end": end, "rss_growth": round(growth, 4), "errors": errors[:10],
            "error_count": len(errors), "wrong": wrong[:10], "wrong_count": len(wrong), "checks": checks,
            "ok": done and all(checks.values()), "marks": run["marks"]}


def _write(path: Path, report: dict) -> None:
    with replaced_atomically(path) as tmp:  # a reader never sees half a report
        tmp.write_text(json.dumps(report, indent=2))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=50, help="calls before the baseline snapshot")
    ap.add_argument("--tts", default="piper", help="prompt synthesizer, or 'none'")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--out", type=Path, help="write the report so far to this file as the soak goes")
    args = ap.parse_args(argv)
    report = soak(args.calls, min(args.warmup, args.calls), None if args.tts == "none" else args.tts,
                  log=lambda line: print(line, file=sys.stderr, flush=True), out=args.out)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['calls']} calls in {report['seconds']} s: rss {report['after_warmup']['rss_mb']} → "
              f"{report['end']['rss_mb']} MB ({report['rss_growth']:+.1%}), fds {report['after_warmup']['fds']} → "
              f"{report['end']['fds']}, threads {report['after_warmup']['threads']} → {report['end']['threads']}, "
              f"errors {report['error_count']}, ended differently {report['wrong_count']}")
        for name, ok in report["checks"].items():
            print(f"  {'ok  ' if ok else 'FAIL'} {name}")
        for e in report["errors"][:3]:
            print(e["trace"], file=sys.stderr)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
