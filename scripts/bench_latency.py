"""Turn latency of real-time calls, measured at 1x speed through the Session, against today's
blocking path (every turn run inline on the audio path, fixed 600 ms hang-over, no barge-in) in
the same run.

A paced caller (Piper voice, cached renders) says each turn once the bot has spoken and been quiet
for 0.6 s. Per turn: the time from the true end of the caller's speech (the last loud sample of the
WAV) to the first sample of the bot's answer, on the wall clock of a 1x stream, plus the stages
(endpoint wait, ASR, NLU, flow, TTS first audio) from the Session's TurnTiming events. Barge-in:
a caller talks over the greeting; the time from their speech onset to the bot's audio going quiet.

    python scripts/bench_latency.py [--json] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from voicebot.audio import Audio, read_wav  # noqa: E402
from voicebot.flow import CallEngine, load_flow  # noqa: E402
from voicebot.pipeline import Session, Stack  # noqa: E402
from voicebot.pipeline.events import TurnTiming  # noqa: E402
from voicebot.pipeline.prompts import fixed_prompts  # noqa: E402
from voicebot.pipeline.seams import Heard  # noqa: E402
from voicebot.speechgen import speak  # noqa: E402
from voicebot.store import open_store  # noqa: E402

NOON = datetime(2026, 11, 18, 12, 0, tzinfo=ZoneInfo("America/New_York"))
CALLS = [
    ["what time does the branch open on saturday", "no thank you", "five"],
    ["I lost my debit card", "one two three four five six seven eight", "two four six eight",
     "no that's all", "four"],
    ["what's my balance", "one two three four five six seven eight", "two four six eight", "no", "yes"],
]
BARGE = "I lost my debit card"
QUIET_AFTER_BOT_S = 0.6
LOUD = 500
STAYS_QUIET_MS = 400  # the bot's audio stopped, not paused between two sentences


class NeverBargeIn:
    """Today's path: prompts always play to the end."""

    def hear(self, caller, played, voiced) -> Heard:
        return Heard(voiced, False)

    def reset(self) -> None:
        pass


def speech_end(audio: Audio) -> int:
    loud = np.flatnonzero(np.abs(audio.samples.astype(int)) > LOUD)
    return int(loud[-1]) if loud.size else 0


def speech_start(audio: Audio) -> int:
    loud = np.flatnonzero(np.abs(audio.samples.astype(int)) > LOUD)
    return int(loud[0]) if loud.size else 0


def session_for(stack, flow, db, blocking: bool) -> Session:
    engine = CallEngine(flow, open_store(db), now=NOON)
    if blocking:
        return Session(engine, stack, inline=True, barge_in=NeverBargeIn())
    return Session(engine, stack)


def paced_call(session: Session, turns: list[Audio], stalls: list[float]) -> list[dict]:
    """Play `turns` at 1x, each after the bot has spoken and gone quiet; latencies per turn.
    `stalls` gets how long each push+read took: the audio path's hold-up of a 30 ms cadence."""
    ms, rate = session.frame_ms, session.rate
    hop = rate * ms // 1000
    silence = Audio.silence(ms / 1000, rate)
    results, pending = [], list(turns)
    current: list[Audio] = []
    end_wall: float | None = None
    bot_spoke, quiet = False, 0
    session.start()
    t0 = time.perf_counter()
    i = 0
    while not session.done and i < 200 * 1000 // ms:
        if not current and pending and bot_spoke and quiet * ms >= QUIET_AFTER_BOT_S * 1000:
            turn = pending.pop(0)
            end = speech_end(turn)
            current = list(turn.frames(ms))
            end_frame, bot_spoke, end_wall = end // hop, False, None
            frame_no = 0
        if current:
            frame = current.pop(0)
            if frame_no == end_frame:
                end_wall = t0 + i * ms / 1000 + (end - end_frame * hop) / rate
            frame_no += 1
        else:
            frame = silence
        before = time.perf_counter()
        session.push(frame)
        bot = session.read(ms).samples
        now = time.perf_counter()
        stalls.append((now - before) * 1000)
        loud = np.flatnonzero(np.abs(bot.astype(int)) > LOUD)
        if loud.size:
            bot_spoke, quiet = True, 0
            if end_wall is not None:
                results.append({"latency_ms": (max(now, t0 + i * ms / 1000) + loud[0] / rate - end_wall) * 1000})
                end_wall = None
        else:
            quiet += 1
        if not pending and not current and end_wall is None and bot_spoke and quiet * ms > 3000:
            break
        i += 1
        delay = t0 + i * ms / 1000 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    session.hangup()
    session.settle()
    timings = [e for e in session.events if isinstance(e, TurnTiming)]
    for result, timing in zip(results, timings):
        result.update(endpoint_ms=timing.endpoint_ms, asr_ms=timing.asr_ms, nlu_ms=timing.nlu_ms,
                      flow_ms=timing.flow_ms, tts_first_ms=timing.tts_first_ms,
                      speculative=timing.speculative)
    return results


def barge_in_stop(session: Session, words: Audio, at_s: float = 2.0) -> float:
    """Caller talks over the greeting at `at_s`: ms from their onset until the bot goes quiet."""
    ms, rate = session.frame_ms, session.rate
    caller = Audio.silence(at_s, rate) + words + Audio.silence(2.0, rate)
    onset = int(at_s * rate) + speech_start(words)
    session.start()
    t0 = time.perf_counter()
    stop = None
    for i, frame in enumerate(caller.frames(ms)):
        session.push(frame)
        bot = session.read(ms).samples
        position = i * rate * ms // 1000
        quiet = np.abs(bot.astype(int)).max() < 50
        if position >= onset and quiet and stop is None:
            stop = (position - onset) * 1000 / rate
        elif not quiet and stop is not None and (position - onset) * 1000 / rate - stop < STAYS_QUIET_MS:
            stop = None  # a pause between sentences, not the prompt stopping
        delay = t0 + (i + 1) * ms / 1000 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    session.hangup()
    session.settle()
    return stop if stop is not None else float("nan")


def pct(values: list[float], q: float) -> float | None:
    values = sorted(v for v in values if v == v)
    if not values:
        return None
    return round(float(np.percentile(values, q)), 1)


def summarise(turns: list[dict], stops: list[float], stalls: list[float]) -> dict:
    latencies = [t["latency_ms"] for t in turns]
    stages = {k: pct([t[k] for t in turns if k in t], 50)
              for k in ("endpoint_ms", "asr_ms", "nlu_ms", "flow_ms", "tts_first_ms")}
    return {"turn_latency_p50_ms": pct(latencies, 50), "turn_latency_p95_ms": pct(latencies, 95),
            "barge_in_stop_ms_p95": pct(stops, 95), "turns": len(turns),
            "audio_path_stall_ms_max": round(max(stalls), 1) if stalls else None,
            "speculative_share": round(sum(bool(t.get("speculative")) for t in turns) / max(1, len(turns)), 2),
            "stages_p50_ms": stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    flow = load_flow(ROOT / "flows" / "bank.yml")
    stack = Stack.load(asr="whisper", tts="piper")
    stack.prompts.warm(fixed_prompts(flow))
    calls = [[read_wav(speak(t, "piper")).canonical() for t in call] for call in CALLS]
    barge = read_wav(speak(BARGE, "piper")).canonical()
    stack.recognizer.transcribe(calls[0][0])  # the first decode is slower (allocations)
    stack.nlu.understand("warm up the intent model")  # loads lazily on first use
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/bench.db"
        for name, blocking in (("realtime", False), ("baseline_blocking", True)):
            turns, stops, stalls = [], [], []
            for _ in range(args.repeat):
                for call in calls:
                    turns += paced_call(session_for(stack, flow, db, blocking), call, stalls)
                stops.append(barge_in_stop(session_for(stack, flow, db, blocking), barge))
            out[name] = summarise(turns, stops, stalls)
    result = {**{k: out["realtime"][k] for k in ("turn_latency_p50_ms", "turn_latency_p95_ms",
                                                 "barge_in_stop_ms_p95")},
              "realtime": out["realtime"], "baseline_blocking": out["baseline_blocking"],
              "cpu_count": os.cpu_count()}
    base, now = out["baseline_blocking"]["turn_latency_p50_ms"], out["realtime"]["turn_latency_p50_ms"]
    result["p50_speedup"] = round(base / now, 2) if base and now else None
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name in ("realtime", "baseline_blocking"):
        r = out[name]
        print(f"{name:18s} p50 {r['turn_latency_p50_ms']} ms  p95 {r['turn_latency_p95_ms']} ms  "
              f"barge-in stop p95 {r['barge_in_stop_ms_p95']} ms (None: plays to the end)  "
              f"audio path held up to {r['audio_path_stall_ms_max']} ms  ({r['turns']} turns)  "
              f"stages p50 {r['stages_p50_ms']}")
    print(f"p50 speed-up {result['p50_speedup']}x")


if __name__ == "__main__":
    main()
