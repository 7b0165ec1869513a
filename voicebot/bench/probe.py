"""Run in a fresh process (`python -m voicebot.bench.probe [--hold N]`) by coldstart.py: load
everything a call needs (flow, Whisper, NLU, Piper with the flow's fixed prompts warm), print a
"ready" line, then hold N calls open at once (each has heard its first turn) and print how much
resident memory each added."""

from __future__ import annotations

import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_TURN = ROOT / "examples" / "calls" / "balance_spoken_id" / "01.wav"  # the bot then asks for the ID


def rss_mb() -> float:
    from voicebot.pipeline.workers import resident_bytes  # the one reader of /proc/self/statm

    return resident_bytes() / 2**20


def _emit(**data) -> None:
    print(json.dumps(data), flush=True)


def load(stages: dict[str, float] | None = None):
    """Everything a call needs, in the order a worker loads it; `stages` gets each step's seconds."""
    stages = {} if stages is None else stages
    mark = [time.perf_counter()]

    def done(stage: str) -> None:
        now = time.perf_counter()
        stages[stage] = round(now - mark[0], 3)
        mark[0] = now

    from voicebot.audio import Audio
    from voicebot.flow import load_flow
    from voicebot.pipeline import Stack
    from voicebot.pipeline.prompts import fixed_prompts

    done("imports")
    flow = load_flow(ROOT / "flows" / "bank.yml")
    done("flow")
    stack = Stack.load(asr="whisper", tts="piper")
    done("models")
    stack.prompts.warm(fixed_prompts(flow))
    done("prompts")
    stack.nlu.understand("hello")  # the first turn builds spaCy's matcher and the sentiment lexicon
    done("nlu_first_turn")
    stack.recognizer.transcribe(Audio.silence(1.0))
    done("asr_first_decode")
    return flow, stack


def open_call(flow, stack, store, turn):
    from datetime import datetime

    from voicebot.flow import CallEngine
    from voicebot.pipeline import Session

    engine = CallEngine(flow, store, now=datetime.fromisoformat("2026-11-18T12:00:00-05:00"))
    session = Session(engine, stack, voicemail_dir=Path(tempfile.gettempdir()) / "voicebot-probe-voicemail")
    session.start()
    for frame in turn.frames(stack.vad.frame_ms):
        session.push(frame)
        session.read(stack.vad.frame_ms)
    session.settle()
    return session


def hold_calls(flow, stack, n: int) -> dict:
    from voicebot.audio import Audio, read_wav
    from voicebot.evalcalls import fresh_store

    turn = read_wav(FIRST_TURN).canonical() + Audio.silence(1.0)
    with tempfile.TemporaryDirectory() as tmp:
        store = fresh_store(Path(tmp))  # one store for all calls, as in a running server
        open_call(flow, stack, store, turn).hangup()  # first call: lazy state every call shares
        gc.collect()
        before = rss_mb()
        held = [open_call(flow, stack, store, turn) for _ in range(n)]
        gc.collect()
        after = rss_mb()
        alive = sum(not s.done for s in held)
        store.engine.dispose()
    return {"held_calls": n, "still_open": alive, "rss_mb_before_calls": round(before, 1),
            "rss_mb_with_calls": round(after, 1), "rss_mb_per_call": round((after - before) / n, 2)}


def loader_times(started: float) -> list[dict]:
    """Each model loader Stack.load ran side by side (voicebot.registry.LOADS): when it began after
    the probe started, its wall seconds and its thread's CPU seconds."""
    from voicebot.registry import LOADS

    return [{"loader": name, "at_s": round(at - started, 3), "wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
            for name, at, wall, cpu in LOADS]


def main(argv: list[str]) -> None:
    started = time.perf_counter()
    stages: dict[str, float] = {}
    flow, stack = load(stages)
    _emit(event="ready", load_s=round(time.perf_counter() - started, 2), rss_mb=round(rss_mb(), 1),
          stages=stages, loaders=loader_times(started))
    if "--hold" in argv:
        n = int(argv[argv.index("--hold") + 1])
        _emit(event="memory", **hold_calls(flow, stack, n),
              rss_mb_peak=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))


if __name__ == "__main__":
    main(sys.argv[1:])
