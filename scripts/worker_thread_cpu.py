"""Where a running worker's CPU goes, by thread class, until it exits (or --seconds pass).

Samples /proc/PID/task/*/stat every second and names the threads by their *Python* names, read
with `py-spy dump --nonblocking` every few seconds (py-spy must be installed): a thread's OS name
is inherited from the thread that started it, so in a worker from before
voicebot.pipeline.workers.name_os_thread the pool's and the renders' threads carry the name of the
call thread that started them, and /proc alone cannot tell them from the audio path. Threads that
end during the run (a call's) count up to their last sample. Classes: call-… (the calls' audio
path: one thread per call, or the one media thread), MainThread (the event loop: RTP in, SIP),
voicebot-render, voicebot-worker, voicebot-decoder, and threads py-spy does not list (native:
CTranslate2's, onnxruntime's).

Usage: python scripts/worker_thread_cpu.py PID [--seconds N] [--json]
(e.g. on the worker scripts/bench_concurrency.py starts: `pgrep -f "serve --sip"`)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _threads(pid: int) -> dict[str, tuple[str, int]]:
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        out[task.name] = (comm, int(fields[11]) + int(fields[12]))
    return out


def _python_names(pid: int) -> dict[str, str]:
    try:
        dump = subprocess.run([PY_SPY, "dump", "--nonblocking", "-p", str(pid)], capture_output=True,
                              text=True, timeout=15).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(re.findall(r'^Thread (\d+) \([a-z]+\): "(.*)"', dump, re.M))


def _class(name: str) -> str:
    name = re.sub(r"_\d+$", "", name)
    return "call-… (audio path)" if name.startswith("call-") else name


# py-spy comes with the test extra (scripts/setup.sh), next to this interpreter
PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


def main() -> None:
    if not Path(PY_SPY).is_file():
        sys.exit("worker_thread_cpu: py-spy not found (pip install py-spy, or run scripts/setup.sh)")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pid", type=int)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    first = _threads(args.pid)
    start, end = time.monotonic(), time.monotonic() + args.seconds
    last: dict[str, tuple[str, int]] = dict(first)
    names: dict[str, str] = {}
    n = 0
    while time.monotonic() < end and Path(f"/proc/{args.pid}").exists():
        if n % 4 == 0:
            names.update(_python_names(args.pid))
        now = _threads(args.pid)
        if not now:
            break
        last.update(now)
        stamp = time.monotonic()
        n += 1
        time.sleep(1.0)
    seconds = max(1e-9, stamp - start) if n else 1e-9
    cpu: Counter[str] = Counter()
    for tid, (comm, ticks) in last.items():
        base = first[tid][1] if tid in first else 0
        cpu[_class(names.get(tid, f"native ({comm})"))] += (ticks - base) / TICKS
    result = {"seconds": round(seconds, 1),
              "cores": {k: round(v / seconds, 3) for k, v in cpu.most_common() if v > 0}}
    print(json.dumps(result) if args.json else "\n".join(
        [f"over {result['seconds']} s:"] + [f"  {k:28s} {v:.3f} cores" for k, v in result["cores"].items()]))


if __name__ == "__main__":
    main()
