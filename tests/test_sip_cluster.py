"""The scale-out path end to end: scripts/cluster.sh starts PostgreSQL (a private server), two
`voicebot serve` workers and Kamailio dispatching to them; SIPp drives 20 concurrent calls
through Kamailio with none failing, then one worker is killed (kill -9) mid-run.

What counts: a call fails when SIPp sees anything but its scenario (no 200 to the INVITE, an
unexpected reply, a timeout). The calls answered by the killed worker and in progress when it
died cannot end normally: no BYE comes, and the proxy answers the caller's BYE itself with 408;
those are logged as lost, must be exactly the killed worker's calls in progress, and their
records end as abandoned (`worker_lost`) by the surviving worker's heartbeat sweep. Every other
call must succeed (0 failed), new calls go to the survivor, and no call record is lost or doubled."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
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
         "-nostdin", "-timeout", "90", "-timeout_error", "-trace_err", "-error_file", str(workdir / f"{name}.err"),
         "-trace_logs", "-log_file", str(workdir / f"{name}.lost")],
        cwd=workdir, stdout=(workdir / f"{name}.out").open("wb"), stderr=subprocess.STDOUT)


def _lost(workdir: Path, name: str) -> set[str]:
    """SIP Call-IDs of calls whose worker died under them (the scenario's "lost" log)."""
    path = workdir / f"{name}.lost"
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return {line.split()[-1] for line in lines if "lost " in line}


def _rows(db: str) -> list[tuple[str, str, datetime, dict]]:
    """Every call record with the worker that wrote it: (id, worker id, started, record)."""
    from sqlalchemy import select

    from voicebot.store import open_store
    from voicebot.store.models import CallRow

    store = open_store(db)
    with store._session() as s:
        rows = s.execute(select(CallRow.call_id, CallRow.worker_id, CallRow.started_at, CallRow.record)).all()
    store.engine.dispose()
    return [tuple(r) for r in rows]


def _failed(proc: subprocess.Popen, workdir: Path, name: str) -> str:
    rc = proc.wait(120)
    if rc == 0:
        return ""
    err = workdir / f"{name}.err"
    # the scenario's own timeouts ("jumping to label") are the normal caller hang-up: show the rest
    lines = [line for line in (err.read_text(errors="replace").splitlines() if err.exists() else [])
             if line.strip() and "jumping to label" not in line]
    return f"sipp rc={rc}: {(workdir / f'{name}.out').read_text(errors='replace')[-1500:]}" + \
        "\n".join(lines[-30:])


def _record_prefix(sip_call_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", sip_call_id)[:40]


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
        assert not failed, (failed, _twice(run))  # 20 concurrent calls through Kamailio, 0 failed
        answered = [(run / f"worker{i}.log").read_text().count(": answered") for i in (1, 2)]
        # round robin over both workers (10/10 unless one was too slow to answer and was skipped)
        assert sum(answered) == 20 and min(answered) >= 5, (answered, _twice(run))

        later = _sipp(port, 8, 2, tmp_path, "failover")
        time.sleep(2.2)  # calls 1-5 placed, alternating workers, each 6 s long: several on worker 1
        killed = int((run / "worker1.pid").read_text())
        killed_at = datetime.now(timezone.utc)
        os.kill(killed, signal.SIGKILL)
        failed = _failed(later, tmp_path, "failover")
        assert not failed, failed  # 0 failed calls: the others all ended as their scenario says
        lost = _lost(tmp_path, "failover")
        after = [(run / f"worker{i}.log").read_text().count(": answered") for i in (1, 2)]
        assert after[1] - answered[1] > after[0] - answered[0]  # new calls went to the survivor

        deadline = time.monotonic() + 30  # the survivor's heartbeat (every 5 s) closes the dead one's calls
        while True:
            rows = _rows(db)
            if len(rows) == 28 and all(r[3].get("ended_at") for r in rows) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(rows) == 28, len(rows)  # no call record lost or duplicated
        assert all(r[3].get("ended_at") and r[3]["outcome"] == "abandoned" for r in rows), \
            [(r[0], r[3].get("outcome")) for r in rows if not r[3].get("ended_at")]
        pid = {r[0]: int(r[1].rsplit("-", 2)[1]) for r in rows}
        dropped = {r[0] for r in rows if r[3].get("disposition") == "worker_lost"}
        assert lost and {_record_prefix(c) for c in lost} == {r.rsplit("-", 1)[0] for r in dropped}, (lost, dropped)
        assert all(pid[r] == killed for r in dropped)  # lost calls: exactly the killed worker's
        assert not [r for r in rows if r[2] > killed_at and pid[r[0]] == killed]
        assert len([r for r in rows if r[2] > killed_at]) >= 3  # calls placed after the kill: on the survivor
    finally:
        subprocess.run(cluster + ["down", "--dir", str(run)], cwd=ROOT, env=env, capture_output=True, timeout=120)
        shutil.rmtree(run, ignore_errors=True)
