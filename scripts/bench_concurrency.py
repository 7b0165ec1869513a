"""How many real-time SIP calls one worker holds on this machine while caller turns stay fast.

Starts `voicebot serve --sip` (a separate process, the real CLI, on a fresh SQLite store with the
demo customers), then levels of N simultaneous callers (N = 1, 2, 4, 6, …) written on the same
SIP/RTP stack: each caller dials, waits for the greeting and menu to end, and says three turns of
the lost-card call — "I lost my card.", the customer number, the PIN (Piper, sent as 20 ms G.711
packets at real time; callers dial 0.7 s apart as in the in-process baseline, or all within 3 s
with --arrival burst), each once the bot has gone quiet — and
measures each turn's latency: from the last loud sample of its speech (as sent) to the first loud
sample of the bot's answer as it reaches the caller's RTP socket (VAD hang-over, the worker's
jitter buffer and send pacing included; the caller phone's own jitter buffer is not). Each turn is
split into stages with the worker's log (the worker and the callers share one monotonic clock):
`in` (RTP, jitter buffer, tick and VAD tail up to the last voiced frame), `endpoint` (hang-over or
the speculative decode's early end), `handoff`, `asr`, `nlu`, `flow`, `tts_first`, `glue`, `out`
(first rendered sentence queued → its first loud frame handed to the RTP leg: the prompt's leading
quiet and the 20 ms read clock) and `wire` (the paced sender and loopback). A level runs rounds of
its N calls until it has --min-turns turns (at most 3 rounds), so its p95 ranks enough turns. A
level passes when every turn was answered and the p95 latency is <= --p95 seconds;
`concurrent_calls` is the largest N up to which every level passed (levels go on to 3x the limit,
to show the curve). `cpu_s_per_call_min` is the worker's CPU time (user + system, from /proc) per
minute of connected call, less sensitive to other jobs than wall time. `rss_mb_per_call` is the
worker's resident memory growth per extra call: its size with N callers connected (sampled before
anyone speaks) against one caller, after one uncounted warm-up call (the models' first decodes and
renders grow the process once, ~110 MB, which the first measured level used to carry).

The same-run baseline (`--baseline in-process`, the default) is the same caller audio (μ-law
round-tripped) replayed at 1x through N Sessions in one process on the same models
(voicebot/bench/concurrency.py, in a child process): what the SIP transport adds is the
difference. `--baseline batch1` is a second worker with decode batches of one
(VOICEBOT_DECODE_BATCH=1). The load average is printed per level: other jobs on the machine
inflate every latency here. `--baseline worker --baseline-root DIR` is a second worker from another
checkout (e.g. main) with the same callers, the two taking each level in turn (an A/B run under
the same load).

A turn's speech counts as begun 20 ms before its first packet left the caller (a phone sends a
packet once its 20 ms are captured), not when it was queued: the caller's send clock may hold it
up to 20 ms, which the latency would otherwise hide.

Usage: python scripts/bench_concurrency.py [--json] [--max N] [--p95 1.0]
       [--baseline in-process|batch1|worker|none] [--baseline-root DIR]"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import random
from collections import Counter
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
from voicebot.audio.g711 import ulaw_decode, ulaw_encode  # noqa: E402
from voicebot.transports.sip.messages import StrictUdpTransport  # noqa: E402
from voicebot.transports.sip.rtp import RtpLeg  # noqa: E402

SILENCE_GAP_S = 1.2  # no bot packet for this long: the bot has finished speaking
TURNS = ("I lost my card.", "one two three four five six seven eight", "two four six eight")
MAX_ROUNDS = 3
LOUD = 500  # the threshold voicebot.bench.latency uses for "speech" in and out
STAGES = ("in_ms", "endpoint_ms", "handoff_ms", "asr_ms", "nlu_ms", "flow_ms", "tts_first_ms", "glue_ms",
          "out_ms", "wire_ms")
TICKS = os.sysconf("SC_CLK_TCK")


def _free_udp() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _audio_threads_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of the worker's audio path, per thread: its event loop (the main thread:
    RTP in) and the calls' media thread (named call-…; a worker from before it paced each call on a
    thread of its own, named call-<Call-ID>), not the models' and workers'. A thread's OS name is
    inherited from the thread that started it: a worker whose pool and render threads do not name
    themselves (before voicebot.pipeline.workers.name_os_thread) has their CPU counted here too."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        if task.name == str(pid) or comm.startswith("call-"):
            out[task.name] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def _speech(text: str) -> tuple[Audio, float]:
    """A caller turn as the line carries it (8 kHz, μ-law round trip) and where its speech ends (s)."""
    from voicebot import speechgen

    audio = read_wav(speechgen.speak(text)).canonical(8000)
    audio = Audio(ulaw_decode(ulaw_encode(audio.samples)).astype(np.int16), 8000)
    loud = np.flatnonzero(np.abs(audio.samples.astype(np.int32)) > LOUD)
    end_s = (loud[-1] + 1) / 8000 if len(loud) else audio.duration
    return audio, end_s


class Caller:
    def __init__(self, uac: SipUAC, worker: tuple[str, int], turns: list[tuple[Audio, float]]) -> None:
        self.uac, self.worker, self.turns = uac, worker, turns
        self.last_packet = 0.0
        self.loud_at: list[float] = []  # arrival (+ offset in the packet) of each loud bot packet
        self.turn_marks: list[tuple[float, float]] = []  # (end of the caller's speech, first loud reply)
        self.call_id = ""
        self.connected_s = 0.0
        self.error: str | None = None

    def _packet(self, data: bytes) -> None:
        now = time.monotonic()
        self.last_packet = now
        if (data[1] & 0x7F) != 0 or len(data) <= 12:
            return
        loud = np.flatnonzero(np.abs(ulaw_decode(data[12:]).astype(np.int32)) > LOUD)
        if loud.size:
            self.loud_at.append(now + loud[0] / 8000)  # that sample plays this long after the packet's first

    async def run(self, delay: float) -> None:
        await asyncio.sleep(delay)
        leg = await RtpLeg.open("127.0.0.1", ("127.0.0.1", 9), 0, 101, signal_ip="127.0.0.1")
        leg._rtp.on_packet = self._packet
        offer = build_sdp("127.0.0.1", leg.local_port, 0, "PCMU")
        call = self.uac.send_invite("sip:bench@127.0.0.1", f"sip:bot@{self.worker[0]}:{self.worker[1]}",
                                    self.worker, offer)
        self.call_id = call.call_id
        answered = None
        try:
            await call.wait_answered(timeout=15)
            answered = time.monotonic()
            leg.connect(call.sdp_answer.rtp_address)
            for speech, end_s in self.turns:
                await self._bot_finished(30)
                leg.stop_playing()  # the last turn's trailing silence
                first = leg.sender.sent + 1  # the count once the speech's first packet is out
                leg.play(speech)  # then silence, as a phone without silence suppression sends
                leg.play(Audio(np.zeros(8000 * 8, np.int16), 8000))
                spoke_until = await self._spoken_from(leg, first) + end_s
                reply = await self._first_loud_after(spoke_until, 20)
                self.turn_marks.append((spoke_until, reply))
        except Exception as exc:  # a refused or broken call counts against the round
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            if answered is not None:
                self.connected_s = time.monotonic() - answered
            call.hangup(self.uac)
            await leg.close()

    @staticmethod
    async def _spoken_from(leg: RtpLeg, first: int) -> float:
        """When the turn's speech began, as a phone that sends each packet once its 20 ms are
        captured: 20 ms before its first packet left (the leg's clock sends it up to 20 ms after
        it was queued, which the latency must not hide)."""
        while leg.sender.sent < first:
            await asyncio.sleep(0.002)
        later = leg.sender.sent - first  # packets sent since (a stalled loop): each 20 ms
        return leg.sender.last_sent_at - 0.02 * later - 0.02

    async def _bot_finished(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.last_packet and time.monotonic() - self.last_packet >= SILENCE_GAP_S:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the bot never finished its greeting")

    async def _first_loud_after(self, since: float, timeout: float) -> float:
        deadline = since + timeout
        while time.monotonic() < deadline:
            i = bisect.bisect_right(self.loud_at, since)
            if i < len(self.loud_at):
                return self.loud_at[i]
            await asyncio.sleep(0.01)
        raise TimeoutError("no answer to the caller's turn")


def worker_stages(log: Path, call_ids: set[str]) -> dict[str, list[dict]]:
    """The worker's "turn stages" lines (voicebot/transports/sip/call.py) of these calls."""
    out: dict[str, list[dict]] = {}
    for line in log.read_text(errors="replace").splitlines():
        head, sep, rest = line.partition(": turn stages ")
        call_id = head.partition("voicebot.transports.sip.call:")[2]  # the logger's name, then the Call-ID
        if sep and call_id in call_ids:
            out.setdefault(call_id, []).append(json.loads(rest))
    return out


def split_turn(end: float, heard: float, w: dict) -> dict:
    """Every millisecond from the caller's last loud sample to the first loud one it heard back."""
    last_voiced = w["ended_at"] - w["endpoint_ms"] / 1000
    work = (w["queued_at"] - w["picked_at"]) * 1000
    parts = {"in_ms": (last_voiced - end) * 1000, "endpoint_ms": w["endpoint_ms"],
             "handoff_ms": (w["picked_at"] - w["ended_at"]) * 1000, "asr_ms": w["asr_ms"], "nlu_ms": w["nlu_ms"],
             "flow_ms": w["flow_ms"], "tts_first_ms": w["tts_first_ms"],
             "glue_ms": work - w["asr_ms"] - w["nlu_ms"] - w["flow_ms"] - w["tts_first_ms"],
             "out_ms": (w["sent_at"] - w["queued_at"]) * 1000, "wire_ms": (heard - w["sent_at"]) * 1000}
    return {k: round(v, 1) for k, v in parts.items()} | {"speculative": w["speculative"]}


def _arrivals(n: int, arrival: str) -> list[float]:
    """When each of N callers dials (s): `even`, one every STAGGER_S as the in-process baseline's
    calls arrive (voicebot/bench/concurrency.py), or `burst`, all at random within 3 s."""
    if arrival == "burst":
        rng = random.Random(n)
        return [rng.uniform(0, 3.0) for _ in range(n)]
    from voicebot.bench.concurrency import STAGGER_S

    return [STAGGER_S * k for k in range(n)]


def _batches(log: Path, offset: int) -> Counter:
    """Decode batch sizes the worker logged after `offset` (voicebot/transports/sip/server.py)."""
    sizes: Counter = Counter()
    with open(log, errors="replace") as f:
        f.seek(offset)
        for line in f:
            head, sep, rest = line.partition("decode batches since the last call ended: ")
            if sep:
                sizes.update({int(k): v for k, v in json.loads(rest).items()})
    return sizes


async def _round(n: int, worker: tuple[str, int], pid: int, log: Path, turns: list[tuple[Audio, float]],
                 arrival: str = "even") -> dict:
    transport = StrictUdpTransport(local_addr=("127.0.0.1", 0))
    uac = SipUAC(transport)
    uas = SipUAS(transport, uac=uac)
    await uas.start()
    callers = [Caller(uac, worker, turns) for _ in range(n)]
    arrivals = _arrivals(n, arrival)
    offset = log.stat().st_size
    peak = 0.0

    audio_start = _audio_threads_cpu(pid)
    audio_seen = dict(audio_start)  # the last reading of each audio thread (a call's ends with it)

    async def watch_rss() -> None:
        nonlocal peak
        while True:
            peak = max(peak, _rss_mb(pid))
            audio_seen.update(_audio_threads_cpu(pid))
            await asyncio.sleep(0.25)

    async def connected_rss() -> float:
        await asyncio.sleep(max(arrivals) + 2.5)  # every caller is in, (almost) none has spoken yet
        return _rss_mb(pid)

    watcher = asyncio.ensure_future(watch_rss())
    held = asyncio.ensure_future(connected_rss())
    cpu = _cpu_s(pid)
    await asyncio.gather(*(c.run(at) for c, at in zip(callers, arrivals)))
    cpu = _cpu_s(pid) - cpu
    audio_seen.update(_audio_threads_cpu(pid))
    audio_cpu = sum(v - audio_start.get(t, 0.0) for t, v in audio_seen.items())
    watcher.cancel()
    await uas.stop()
    # The worker logs a turn's stages once its whole answer has rendered: the last turn's comes
    # after its caller, having heard the answer begin, hung up.
    expected = sum(len(c.turn_marks) for c in callers)
    for _ in range(40):
        await asyncio.sleep(0.25)
        stages = worker_stages(log, {c.call_id for c in callers})
        if sum(len(v) for v in stages.values()) >= expected:
            break
    turns_out = []
    for c in callers:
        lines = stages.get(c.call_id, [])
        for end, heard in c.turn_marks:
            mine = next((w for w in lines if end - 1.0 < w["ended_at"] < heard), None)
            turns_out.append({"latency_s": round(heard - end, 3), **(split_turn(end, heard, mine) if mine else {})})
    return {"calls": n, "turns": turns_out, "errors": [c.error for c in callers if c.error],
            "peak_rss_mb": round(peak, 1), "connected_rss_mb": round(held.result(), 1), "cpu_s": cpu,
            "decode_batches": _batches(log, offset),
            "audio_cpu_s": audio_cpu,
            "call_min": sum(c.connected_s for c in callers) / 60}


def _p(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _level(n: int, worker: tuple[str, int], pid: int, log: Path, turns: list[tuple[Audio, float]],
           min_turns: int, arrival: str = "even") -> dict:
    """Rounds of N calls until the level has `min_turns` turns (at most MAX_ROUNDS rounds)."""
    rounds = min(MAX_ROUNDS, max(1, -(-min_turns // (n * len(turns)))))
    results = [asyncio.run(_round(n, worker, pid, log, turns, arrival)) for _ in range(rounds)]
    turns_out = [t for r in results for t in r["turns"]]
    latencies = sorted(t["latency_s"] for t in turns_out)
    expected = rounds * n * len(turns)
    p95 = float(np.percentile(latencies, 95)) if latencies else None
    call_min = sum(r["call_min"] for r in results)
    return {"calls": n, "rounds": rounds, "turns": len(latencies), "turns_expected": expected,
            "errors": [e for r in results for e in r["errors"]],
            "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
            "latency_p95_s": round(p95, 3) if p95 is not None else None,
            "stages_p50_ms": {k: _p([t[k] for t in turns_out if k in t], 50) for k in STAGES},
            "stages_mean_ms": {k: round(float(np.mean(v)), 1) for k in STAGES
                               if (v := [t[k] for t in turns_out if k in t])},
            "slowest": sorted(turns_out, key=lambda t: -t["latency_s"])[:3],
            "speculative_share": round(sum(bool(t.get("speculative")) for t in turns_out) / max(1, len(turns_out)), 2),
            "cpu_s_per_call_min": round(sum(r["cpu_s"] for r in results) / call_min, 2) if call_min else None,
            "cpu_s_per_call": round(sum(r["cpu_s"] for r in results) / (n * rounds), 2),
            # event loop + call threads only, per second of connected call (ms/s = tenths of a % of a core)
            "audio_cpu_ms_per_call_s": round(sum(r["audio_cpu_s"] for r in results) / call_min / 60 * 1000, 2)
            if call_min else None,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "connected_rss_mb": results[0]["connected_rss_mb"], "load_avg_1m": round(os.getloadavg()[0], 2),
            "decode_batches": dict(sorted(sum((r["decode_batches"] for r in results), Counter()).items()))}


def _passed(result: dict, p95: float) -> bool:
    return not result["errors"] and result["turns"] == result["turns_expected"] \
        and result["latency_p95_s"] is not None and result["latency_p95_s"] <= p95


def _plan(args) -> list[int]:
    if args.levels:
        return [int(n) for n in args.levels.split(",")]
    levels, n = [], 1
    while n <= args.max:
        levels.append(n)
        n = n + 1 if n < 2 else n + 2
    return levels


def _no_admission(root: Path) -> list[str]:
    """Serve options that let every benchmark call in (an older checkout, as an A/B baseline,
    may not know the render queue's)."""
    options = ["--max-calls", "200", "--max-decode-queue", "200"]
    if "--max-render-queue" in (root / "voicebot" / "cli" / "serve.py").read_text():
        options += ["--max-render-queue", "200"]
    return options


class Worker:
    """One `voicebot serve --sip` process (from this checkout or another: an A/B run) on its own
    fresh store, its log kept in /tmp for a look afterwards."""

    def __init__(self, args, turns: list[tuple[Audio, float]], env: dict[str, str], label: str, root: Path) -> None:
        self.args, self.turns, self.label = args, turns, label
        self.port = _free_udp()
        self.db = args.db or f"sqlite:////tmp/voicebot-bench-{os.getpid()}-{label}.db"
        self.log = Path(f"/tmp/voicebot-bench-{os.getpid()}-{label}.log")
        if not args.db:  # the demo customers, so the caller's number and PIN authenticate
            subprocess.run([sys.executable, "-m", "voicebot", "db", "init", "--demo", "--db", self.db], cwd=root,
                           check=True, stdout=subprocess.DEVNULL)
        self.proc = subprocess.Popen([sys.executable, "-m", "voicebot", "serve", "--sip", f"127.0.0.1:{self.port}",
                                      "--db", self.db, *_no_admission(root)],
                                     cwd=root, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"),
                                     env={**os.environ, "VOICEBOT_LOG": "INFO", **env})
        self.levels: list[dict] = []
        self.best, self.passing = 0, True

    def ready(self) -> dict:
        """Wait for the models, make the uncounted warm-up call, and size the idle worker."""
        while "serve: ready" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None:
                raise SystemExit(f"worker did not start: {self.log.read_text()[-800:]}")
            time.sleep(0.5)
        time.sleep(1.0)
        pid = self.proc.pid
        cold = _rss_mb(pid)
        if self.args.warmup:  # one call first, not counted: the models' first real decodes and renders
            asyncio.run(_round(1, ("127.0.0.1", self.port), pid, self.log, self.turns))  # grow buffers once
        idle, cpu = _rss_mb(pid), _cpu_s(pid)
        time.sleep(5.0)
        return {"cold_rss_mb": round(cold, 1), "idle_rss_mb": round(idle, 1),
                "idle_cpu_s_per_s": round((_cpu_s(pid) - cpu) / 5.0, 3),  # what it burns with no call at all
                "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}

    def level(self, n: int) -> dict:
        result = _level(n, ("127.0.0.1", self.port), self.proc.pid, self.log, self.turns, self.args.min_turns,
                        self.args.arrival)
        self.levels.append(result)
        if not self.args.json:
            print(self.label, json.dumps(result), flush=True)
        self.passing = self.passing and _passed(result, self.args.p95)
        if self.passing:
            self.best = n
        return result

    def done(self) -> bool:
        """Far past the limit: more calls only measure the queue."""
        last = self.levels[-1]
        return last["turns"] < last["turns_expected"] or (last["latency_p95_s"] or 99) > 3 * self.args.p95

    def summary(self, sizes: dict) -> dict:
        largest = self.levels[-1]
        # What each extra held call costs: the worker's size with N calls in vs with one call in.
        per_call = ((largest["connected_rss_mb"] - self.levels[0]["connected_rss_mb"]) / (largest["calls"] - 1)
                    if largest["calls"] > 1 else None)
        return {"concurrent_calls": self.best, "rss_mb_per_call": round(per_call, 2) if per_call is not None else None,
                **sizes, "levels": self.levels}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        path = self.db.removeprefix("sqlite:///")
        if not self.args.db and os.path.exists(path):
            os.remove(path)


def measure(args, turns: list[tuple[Audio, float]], runs: list[tuple[str, Path, dict[str, str]]]) -> list[dict]:
    """Workers through the same levels, taking turns level by level (an A/B run: the machine's
    other jobs weigh on both alike); one summary per worker, in order."""
    workers = [Worker(args, turns, env, label, root) for label, root, env in runs]
    try:
        sizes = [w.ready() for w in workers]
        for n in _plan(args):
            going = [w for w in workers if not (w.levels and w.done())]
            if not going:
                break
            for w in going:
                w.level(n)
        return [w.summary(size) for w, size in zip(workers, sizes)]
    finally:
        for w in workers:
            w.stop()


def in_process(args, turns: list[tuple[Audio, float]], levels: list[int]) -> dict:
    """The same caller audio through N paced Sessions in this process (no SIP): the baseline."""
    from voicebot.bench import concurrency
    from voicebot.bench.latency import Material, warm
    from voicebot.cli.serve import load_call_models
    from voicebot.evalcalls import DEFAULT_FLOW

    flow, stack = load_call_models(DEFAULT_FLOW, "whisper", "piper")
    mat = Material((tuple(a.canonical() for a, _ in turns),), turns[0][0].canonical())
    warm(stack, mat)
    load = round(os.getloadavg()[0], 2)
    steps, best, passing = [], 0, True
    for n in levels:
        cpu = time.process_time()
        wall = time.monotonic()
        step = concurrency.level(stack, flow, mat, n, min_turns=args.min_turns)
        step["cpu_s_per_call_min"] = round((time.process_time() - cpu) / (n * (time.monotonic() - wall) / 60), 2)
        steps.append(step)
        passing = passing and concurrency._passed(step)
        best = n if passing else best
    return {"concurrent_calls": best, "load_avg_1m_at_start": load, "levels": steps}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--max", type=int, default=24)
    parser.add_argument("--p95", type=float, default=1.0)
    parser.add_argument("--levels", default=None, help="these numbers of calls (e.g. 1,6,12) instead of 1, 2, 4, … --max")
    parser.add_argument("--min-turns", type=int, default=20, help="caller turns per level at least")
    parser.add_argument("--baseline", choices=("in-process", "batch1", "worker", "none"), default="in-process",
                        help="same-run baseline: the caller audio through Sessions in one process (no SIP), "
                             "a worker with decode batches of one, the worker of --baseline-root, or none")
    parser.add_argument("--baseline-root", default=None,
                        help="with --baseline worker: another checkout (e.g. main) whose worker takes the same "
                             "levels in turn with this one's")
    parser.add_argument("--arrival", choices=("even", "burst"), default="even",
                        help="callers dial one every 0.7 s, as the in-process baseline's (even), or all at "
                             "random within 3 s (burst: their turns fall together)")
    parser.add_argument("--no-baseline", dest="baseline", action="store_const", const="none")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the uncounted first call (then rss_mb_per_call includes one-time growth)")
    parser.add_argument("--worker-root", default=None,
                        help="run the worker from this checkout (e.g. `git archive` of an older commit) for an A/B run")
    parser.add_argument("--in-process-levels", default=None, help=argparse.SUPPRESS)  # the child's job
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file with the demo customers)")
    args = parser.parse_args()
    turns = [_speech(t) for t in TURNS]
    if args.in_process_levels:
        print(json.dumps(in_process(args, turns, [int(n) for n in args.in_process_levels.split(",")])))
        return
    root = Path(args.worker_root) if args.worker_root else ROOT  # another checkout's worker
    runs = [("build", root, {})]
    if args.baseline == "batch1":
        runs.append(("baseline", root, {"VOICEBOT_DECODE_BATCH": "1"}))
    elif args.baseline == "worker":
        runs.append(("baseline", Path(args.baseline_root), {}))
    results = measure(args, turns, runs)
    out = results[0]
    out.update(p95_limit_s=args.p95, cpus=os.cpu_count(), min_turns_per_level=args.min_turns,
               turns_per_call=list(TURNS), worker_root=str(root), arrival=args.arrival)
    if args.baseline in ("batch1", "worker"):
        base = results[1]
        name = ("the same worker, decode batches of one (VOICEBOT_DECODE_BATCH=1)" if args.baseline == "batch1"
                else f"the worker of {args.baseline_root}, the same callers, levels taken in turn")
        out["baseline"] = {"name": name, **{k: base[k] for k in ("concurrent_calls", "rss_mb_per_call",
                                                                   "load_avg_1m_at_start", "levels")}}
    elif args.baseline == "in-process":
        levels = ",".join(str(level["calls"]) for level in out["levels"])
        child = subprocess.run([sys.executable, __file__, "--in-process-levels", levels, "--min-turns",
                                str(args.min_turns), "--p95", str(args.p95)], cwd=ROOT, check=True,
                               capture_output=True, text=True)
        base = json.loads(child.stdout.strip().splitlines()[-1])
        out["baseline"] = {"name": "the same caller audio through N Sessions in one process, no SIP "
                                   "(voicebot/bench/concurrency.py)", **base}
        if not args.json:
            for step in base["levels"]:
                print("in-process", json.dumps(step), flush=True)
    out["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
