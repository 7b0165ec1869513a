"""The scale-out path end to end: scripts/cluster.sh starts PostgreSQL (a private server), two
`voicebot serve` workers and Kamailio dispatching to them; SIPp drives 20 concurrent calls
through Kamailio with none failing, then one worker is stopped mid-run: its calls end as
abandoned records, new calls go to the other worker, and no call record is lost."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sip_peers import free_port, free_port_run, free_tcp_port

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "deploy" / "sipp" / "call.xml"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (shutil.which("kamailio") and shutil.which("sipp")),
                                 reason="kamailio / sip-tester not installed (scripts/setup.sh installs them)")]


def _sipp(port: int, calls: int, rate: float, workdir: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["sipp", "-sf", str(SCENARIO), f"127.0.0.1:{port}", "-m", str(calls), "-l", str(calls),
         "-r", str(rate), "-i", "127.0.0.1", "-p", str(free_port()), "-mp", str(free_port(pair=True)),
         "-nostdin", "-timeout", "90", "-timeout_error", "-trace_err", "-error_file", str(workdir / f"{name}.err")],
        cwd=workdir, stdout=(workdir / f"{name}.out").open("wb"), stderr=subprocess.STDOUT)


def _failed(proc: subprocess.Popen, workdir: Path, name: str) -> str:
    rc = proc.wait(120)
    if rc == 0:
        return ""
    err = workdir / f"{name}.err"
    return f"sipp rc={rc}: {(workdir / f'{name}.out').read_text(errors='replace')[-1500:]}" + \
        (err.read_text(errors="replace")[-1500:] if err.exists() else "")


def _twice(run: Path) -> str:
    """Calls both workers answered (Kamailio tried the next one after 4 s without a reply), calls
    one worker answered twice (a retransmitted INVITE), and the workers' warnings: what to look at
    when the count is off."""
    ids = [[line.split(": answered")[0].split()[-1] for line in (run / f"worker{i}.log").read_text().splitlines()
            if ": answered" in line] for i in (1, 2)]
    twice = [i for worker in ids for i in set(worker) if worker.count(i) > 1]
    warnings = [line for i in (1, 2) for line in (run / f"worker{i}.log").read_text().splitlines()
                if "WARNING" in line or "ERROR" in line]
    return (f"answered by both workers: {sorted(set(ids[0]) & set(ids[1]))}; twice by one: {twice}; "
            f"warnings: {warnings[-10:]}")


def test_kamailio_two_workers_postgres(tmp_path):
    run = Path(tempfile.mkdtemp(prefix="voicebot-cluster-"))  # PostgreSQL's user must reach it
    run.chmod(0o755)
    port = free_port_run(3)
    env = {**os.environ, "VOICEBOT_PYTHON": sys.executable}
    cluster = [str(ROOT / "scripts" / "cluster.sh")]
    opts = ["--workers", "2", "--port", str(port), "--dir", str(run), "--pg-port", str(free_tcp_port())]
    up = subprocess.run(cluster + ["up"] + opts, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        db = (run / "db.url").read_text().strip()

        failed = _failed(_sipp(port, 20, 10, tmp_path, "burst"), tmp_path, "burst")
        assert not failed, failed  # 20 concurrent calls through Kamailio, 0 failed
        answered = [(run / f"worker{i}.log").read_text().count(": answered") for i in (1, 2)]
        # round robin over both workers (10/10 unless one was too slow to answer and was skipped)
        assert sum(answered) == 20 and min(answered) >= 5, (answered, _twice(run))

        later = _sipp(port, 8, 2, tmp_path, "failover")
        time.sleep(2.2)  # two calls on worker 1, two on worker 2, more on the way
        os.kill(int((run / "worker1.pid").read_text()), signal.SIGTERM)
        failed = _failed(later, tmp_path, "failover")
        assert not failed, failed
        after = [(run / f"worker{i}.log").read_text().count(": answered") for i in (1, 2)]
        assert after[1] - answered[1] > after[0] - answered[0]  # new calls went to the survivor

        from voicebot.store import open_store

        deadline = time.monotonic() + 20
        while True:
            calls = open_store(db).calls()
            if len(calls) == 28 and all(c.get("ended_at") for c in calls) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(calls) == 28, len(calls)  # no call record lost or duplicated
        assert all(c.get("ended_at") and c["outcome"] == "abandoned" for c in calls), \
            [(c["call_id"], c.get("outcome")) for c in calls if not c.get("ended_at")]
    finally:
        subprocess.run(cluster + ["down", "--dir", str(run)], cwd=ROOT, env=env, capture_output=True, timeout=120)
        shutil.rmtree(run, ignore_errors=True)
