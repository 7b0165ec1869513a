"""How many real-time SIP calls one worker holds on this machine while caller turns stay fast.

Starts `voicebot serve --sip` (a separate process, the real CLI, on a fresh SQLite store with the
demo customers), then levels of N simultaneous callers (N = 1, 2, 4, 6, …) written on the same
SIP/RTP stack: each caller dials, waits for the greeting and menu to end, and says three turns of
the lost-card call — "I lost my card.", the customer number, the PIN (Piper, sent as 20 ms G.711
packets at real time; callers start up to 3 s apart), each once the bot has gone quiet — and
measures each turn's latency: from the end of its speech to the first packet of the bot's answer
(VAD hang-over and the jitter buffer included). A level runs rounds of its N calls until it has
--min-turns turns (at most 3 rounds), so its p95 ranks enough turns. A level passes when every
turn was answered and the p95 latency is <= --p95 seconds; `concurrent_calls` is the largest N up
to which every level passed (levels go on to 3x the limit, to show the curve).
`rss_mb_per_call` is the worker's resident memory growth per extra call: its size with N callers
connected (sampled before anyone speaks) against one caller.

The same-run baseline (`--baseline`, on by default) is a second worker with the shared decoder's
batches limited to one utterance (VOICEBOT_DECODE_BATCH=1: turns queue and decode one at a time),
measured at the same levels. The load average is printed per level: other jobs on the machine
inflate every latency here.

`voicebot bench` measures the same limit without SIP (N paced Sessions in one process,
voicebot/bench/concurrency.py); this script adds the SIP/RTP transport and a separate worker.

Usage: python scripts/bench_concurrency.py [--json] [--max N] [--p95 1.0]"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from aiosipua import SipUAC, SipUAS, build_sdp  # noqa: E402

from voicebot.audio import Audio, read_wav  # noqa: E402
from voicebot.transports.sip.messages import StrictUdpTransport  # noqa: E402
from voicebot.transports.sip.rtp import RtpLeg  # noqa: E402

SILENCE_GAP_S = 1.2  # no bot packet for this long: the bot has finished speaking
TURNS = ("I lost my card.", "one two three four five six seven eight", "two four six eight")
MAX_ROUNDS = 3


def _free_udp() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _speech(text: str) -> tuple[Audio, float]:
    from voicebot import speechgen

    audio = read_wav(speechgen.speak(text)).canonical(8000)
    loud = np.flatnonzero(np.abs(audio.samples.astype(np.int32)) > 500)
    end_s = (loud[-1] + 1) / 8000 if len(loud) else audio.duration
    return audio, end_s


class Caller:
    def __init__(self, uac: SipUAC, worker: tuple[str, int], turns: list[tuple[Audio, float]]) -> None:
        self.uac, self.worker, self.turns = uac, worker, turns
        self.heard: list[float] = []
        self.latencies: list[float] = []
        self.error: str | None = None

    async def run(self, delay: float) -> None:
        await asyncio.sleep(delay)
        leg = await RtpLeg.open("127.0.0.1", ("127.0.0.1", 9), 0, 101, signal_ip="127.0.0.1")
        leg.on_audio = lambda _frame: self.heard.append(time.monotonic())
        offer = build_sdp("127.0.0.1", leg.local_port, 0, "PCMU")
        call = self.uac.send_invite("sip:bench@127.0.0.1", f"sip:bot@{self.worker[0]}:{self.worker[1]}",
                                    self.worker, offer)
        try:
            await call.wait_answered(timeout=15)
            leg.connect(call.sdp_answer.rtp_address)
            for speech, end_s in self.turns:
                await self._bot_finished(30)
                leg.stop_playing()  # the last turn's trailing silence
                started = time.monotonic()
                leg.play(speech)  # then silence, as a phone without silence suppression sends
                leg.play(Audio(np.zeros(8000 * 8, np.int16), 8000))
                spoke_until = started + end_s
                reply = await self._first_packet_after(spoke_until, 20)
                self.latencies.append(reply - spoke_until)
        except Exception as exc:  # a refused or broken call counts against the round
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            call.hangup(self.uac)
            await leg.close()

    async def _bot_finished(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.heard and time.monotonic() - self.heard[-1] >= SILENCE_GAP_S:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the bot never finished its greeting")

    async def _first_packet_after(self, since: float, timeout: float) -> float:
        deadline = since + timeout
        while time.monotonic() < deadline:
            later = [t for t in self.heard if t > since]
            if later:
                return later[0]
            await asyncio.sleep(0.01)
        raise TimeoutError("no answer to the caller's turn")


async def _round(n: int, worker: tuple[str, int], pid: int, turns: list[tuple[Audio, float]]) -> dict:
    transport = StrictUdpTransport(local_addr=("127.0.0.1", 0))
    uac = SipUAC(transport)
    uas = SipUAS(transport, uac=uac)
    await uas.start()
    callers = [Caller(uac, worker, turns) for _ in range(n)]
    rng = random.Random(n)
    peak = 0.0

    async def watch_rss() -> None:
        nonlocal peak
        while True:
            peak = max(peak, _rss_mb(pid))
            await asyncio.sleep(0.25)

    async def connected_rss() -> float:
        await asyncio.sleep(5.5)  # every caller is in (they start within 3 s), none has spoken yet
        return _rss_mb(pid)

    watcher = asyncio.ensure_future(watch_rss())
    held = asyncio.ensure_future(connected_rss())
    await asyncio.gather(*(c.run(rng.uniform(0, 3.0)) for c in callers))
    watcher.cancel()
    await uas.stop()
    return {"calls": n, "latencies": [x for c in callers for x in c.latencies],
            "errors": [c.error for c in callers if c.error], "peak_rss_mb": round(peak, 1),
            "connected_rss_mb": round(held.result(), 1)}


def _level(n: int, worker: tuple[str, int], pid: int, turns: list[tuple[Audio, float]], min_turns: int) -> dict:
    """Rounds of N calls until the level has `min_turns` turns (at most MAX_ROUNDS rounds)."""
    rounds = min(MAX_ROUNDS, max(1, -(-min_turns // (n * len(turns)))))
    results = [asyncio.run(_round(n, worker, pid, turns)) for _ in range(rounds)]
    latencies = sorted(x for r in results for x in r["latencies"])
    expected = rounds * n * len(turns)
    p95 = float(np.percentile(latencies, 95)) if latencies else None
    return {"calls": n, "rounds": rounds, "turns": len(latencies), "turns_expected": expected,
            "errors": [e for r in results for e in r["errors"]],
            "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
            "latency_p95_s": round(p95, 3) if p95 is not None else None,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "connected_rss_mb": results[0]["connected_rss_mb"], "load_avg_1m": round(os.getloadavg()[0], 2)}


def measure(args, turns: list[tuple[Audio, float]], env: dict[str, str], label: str) -> dict:
    """One worker process (its own fresh store) through the levels."""
    port = _free_udp()
    db = args.db or f"sqlite:////tmp/voicebot-bench-{os.getpid()}-{label}.db"
    log = f"/tmp/voicebot-bench-{os.getpid()}-{label}.log"  # the worker's log, kept for a look afterwards
    if not args.db:  # the demo customers, so the caller's number and PIN authenticate
        subprocess.run([sys.executable, "-m", "voicebot", "db", "init", "--demo", "--db", db], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "voicebot", "serve", "--sip", f"127.0.0.1:{port}", "--db", db,
                               "--max-calls", "200", "--max-decode-queue", "200"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(log, "w"),
                              env={**os.environ, "VOICEBOT_LOG": "INFO", **env})
    try:
        while "serve: ready" not in Path(log).read_text(errors="replace"):
            if worker.poll() is not None:
                raise SystemExit(f"worker did not start: {Path(log).read_text()[-800:]}")
            time.sleep(0.5)
        time.sleep(1.0)
        idle = _rss_mb(worker.pid)
        load = round(os.getloadavg()[0], 2)  # other work on the machine skews every latency here
        levels, best, passing = [], 0, True
        n = 1
        while n <= args.max:
            result = _level(n, ("127.0.0.1", port), worker.pid, turns, args.min_turns)
            levels.append(result)
            if not args.json:
                print(label, json.dumps(result), flush=True)
            ok = not result["errors"] and result["turns"] == result["turns_expected"] \
                and result["latency_p95_s"] is not None and result["latency_p95_s"] <= args.p95
            passing = passing and ok
            if passing:
                best = n
            if result["turns"] < result["turns_expected"] or (result["latency_p95_s"] or 99) > 3 * args.p95:
                break  # far past the limit: more calls only measure the queue
            n = n + 1 if n < 2 else n + 2
        largest = levels[-1]
        # What each extra held call costs: the worker's size with N calls in vs with one call in.
        per_call = ((largest["connected_rss_mb"] - levels[0]["connected_rss_mb"]) / (largest["calls"] - 1)
                    if largest["calls"] > 1 else None)
        return {"concurrent_calls": best, "rss_mb_per_call": round(per_call, 2) if per_call is not None else None,
                "idle_rss_mb": round(idle, 1), "load_avg_1m_at_start": load, "levels": levels}
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        path = db.removeprefix("sqlite:///")
        if not args.db and os.path.exists(path):
            os.remove(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--max", type=int, default=24)
    parser.add_argument("--p95", type=float, default=1.0)
    parser.add_argument("--min-turns", type=int, default=20, help="caller turns per level at least")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the same-run baseline worker (decode batches of one)")
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file with the demo customers)")
    args = parser.parse_args()
    turns = [_speech(t) for t in TURNS]
    out = measure(args, turns, {}, "build")
    out.update(p95_limit_s=args.p95, cpus=os.cpu_count(), min_turns_per_level=args.min_turns,
               turns_per_call=list(TURNS))
    if args.baseline:
        base = measure(args, turns, {"VOICEBOT_DECODE_BATCH": "1"}, "baseline")
        out["baseline"] = {"name": "the same worker, decode batches of one (VOICEBOT_DECODE_BATCH=1)",
                           **{k: base[k] for k in ("concurrent_calls", "rss_mb_per_call", "load_avg_1m_at_start",
                                                   "levels")}}
    out["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
