"""Turn latency and how many calls one process holds, with caller audio paced at real time.

Turn latency is what a caller waits: from the end of their speech (the last voiced frame, so the
endpointer's hang-over counts) to the first bot audio the Session hands the transport. Calls are
the demo bank's regression suite (examples/calls), fed frame by frame at 1x speed; the caller
speaks again as soon as the bot's audio is queued (no time for the prompt to play), so the load
is heavier than real calls make.

`measure_call` is the one place that knows how a Session produces audio (`read(ms)` on the
transport's clock); another way of running a call plugs in as another `Probe`."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.events import SpeechEnded

Probe = Callable[[Any, Any, Any, Any, float], list[float]]  # (stack, flow, case, store, pace) → ms per turn
P95_LIMIT_MS = 1000.0
MAX_ANSWER_S = 10.0  # a turn not answered by then counts as not answered


def measure_call(stack: Any, flow: Any, case: Any, store: Any, pace: float = 1.0) -> list[float]:
    """One call through the Session with audio pushed at `pace` × real time; returns
    end-of-speech → first-bot-audio in ms for each spoken turn the bot answered."""
    from voicebot.audio import Audio, read_wav
    from voicebot.flow import CallEngine
    from voicebot.pipeline import Session

    ended: list[float] = []
    hang_s = stack.vad.hang_over_ms / 1000

    def on_event(event: Any) -> None:
        if isinstance(event, SpeechEnded):
            ended.append(max(event.start, event.end - hang_s))  # stream time the caller stopped speaking

    engine = CallEngine(flow, store, caller_id=case.caller_id, now=case.at)
    ms = stack.vad.frame_ms
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(engine, stack, listener=on_event, voicemail_dir=Path(tmp))
        session.start()
        latencies: list[float] = []
        stream_s, t0 = 0.0, time.perf_counter()

        def tick(frame: Audio) -> bool:
            """Push one caller frame at its time and take the bot's; True once the bot answers."""
            nonlocal stream_s
            delay = t0 + stream_s / pace - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            session.push(frame)
            stream_s += frame.duration
            bot = session.read(ms)
            return bool(ended) and bool(np.abs(bot.samples.astype(np.int32)).max(initial=0) > 0)

        silence = Audio.silence(ms / 1000, session.rate)
        for turn in case.turns:
            if session.done:
                break
            if not turn.lower().endswith(".wav"):
                session.dtmf(turn[5:]) if turn.startswith("dtmf:") else session.caller_text(turn) if turn else session.no_input()
                session.settle()
                continue
            audio = read_wav(turn).canonical(session.rate) + Audio.silence(1.0, session.rate)
            for frame in audio.frames(ms):
                if tick(frame):
                    latencies.append((time.perf_counter() - (t0 + ended.pop() / pace)) * 1000)
                    ended.clear()
                if session.done:
                    break
            for _ in range(int(MAX_ANSWER_S * 1000 / ms)):  # the caller waits for the answer
                if not ended or session.done:
                    break
                if tick(silence):
                    latencies.append((time.perf_counter() - (t0 + ended.pop() / pace)) * 1000)
                    ended.clear()
            while session.speaking and not session.done:  # and lets the bot finish speaking
                tick(silence)
        session.hangup()
    return latencies


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q * (len(values) - 1))))], 1)


def summary(ms: list[float]) -> dict:
    return {"turns": len(ms), "p50_ms": percentile(ms, 0.5), "p95_ms": percentile(ms, 0.95),
            "mean_ms": round(statistics.mean(ms), 1) if ms else None}


def _calls(stack, flow, cases, n_calls: int, probe: Probe, out: list[float], offset: int = 0) -> None:
    from voicebot.evalcalls import fresh_store

    for i in range(n_calls):
        with tempfile.TemporaryDirectory() as tmp:
            store = fresh_store(Path(tmp))
            out.extend(probe(stack, flow, cases[(offset + i) % len(cases)], store, 1.0))
            store.engine.dispose()


def turn_latency(stack, flow, cases, calls: int, probe: Probe = measure_call) -> dict:
    ms: list[float] = []
    _calls(stack, flow, cases, calls, probe, ms)
    return summary(ms)


def concurrent(stack, flow, cases, levels: list[int], calls_each: int = 1, probe: Probe = measure_call) -> dict:
    """Run N calls at once in threads (staggered by 0.7 s, as calls arrive) for each N in `levels`;
    the most with p95 turn latency ≤ 1 s is what the process holds. Stops at the first level over."""
    steps, best = [], 0
    for n in levels:
        ms: list[float] = []
        threads = []
        for k in range(n):
            def run(k=k) -> None:
                time.sleep(0.7 * k)
                _calls(stack, flow, cases, calls_each, probe, ms, offset=k)
            threads.append(threading.Thread(target=run, name=f"bench-call-{k}"))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        step = {"calls": n, **summary(ms)}
        steps.append(step)
        if step["p95_ms"] is None or step["p95_ms"] > P95_LIMIT_MS:
            break
        best = n
    return {"concurrent_calls": best, "p95_limit_ms": P95_LIMIT_MS, "steps": steps}
