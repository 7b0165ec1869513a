"""Turn latency and barge-in of real-time calls at 1x speed through the Session, and the same
calls on the blocking path (every turn run inline on the audio path, fixed 600 ms hang-over, no
barge-in) as the baseline of the same run.

A paced caller (Piper voice, cached renders) says each turn once the bot has spoken and been quiet
for 0.6 s. Per turn: the time from the true end of the caller's speech (the last loud sample of the
WAV, so whatever hang-over the endpointer picks for the prompt counts) to the first sample of the
bot's answer, on the wall clock of a 1x stream, plus the stages (endpoint wait, ASR, NLU, flow, TTS
first audio) from the Session's TurnTiming events. Barge-in: a caller talks over the greeting; the
time from their speech onset to the bot's audio going quiet.

Used by `voicebot bench` (runner.py), the concurrency step (concurrency.py) and
scripts/bench_latency.py."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from voicebot.audio import Audio
from voicebot.pipeline.seams import Heard

NOON = datetime(2026, 11, 18, 12, 0, tzinfo=ZoneInfo("America/New_York"))
CALLS = (
    ("what time does the branch open on saturday", "no thank you", "five"),
    ("I lost my debit card", "one two three four five six seven eight", "two four six eight", "no that's all", "four"),
    # "yes" to the 1-5 rating question is no rating (it was heard as "1" and recorded as CSAT 1):
    # the bot asks again and this caller then gives one, as a real caller would.
    ("what's my balance", "one two three four five six seven eight", "two four six eight", "no", "yes", "three"),
)
BARGE = "I lost my debit card"
QUIET_AFTER_BOT_S = 0.6
LOUD = 500
STAYS_QUIET_MS = 400  # the bot's audio stopped, not paused between two sentences
MAX_CALL_S = 200
# The line's cadence: the caller's frames arrive, and the bot's are taken, 20 ms at a time, as on
# an RTP line (ptime 20, transports/sip/call.py). The Session re-buffers to its VAD frame (30 ms).
LINE_FRAME_MS = 20


@dataclass(frozen=True)
class Material:
    """The callers' audio: each call's turns, and the words that interrupt the greeting."""

    calls: tuple[tuple[Audio, ...], ...]
    barge: Audio


def material(calls: tuple[tuple[str, ...], ...] = CALLS, voice: str = "piper") -> Material:
    from voicebot.audio import read_wav
    from voicebot.speechgen import speak

    return Material(tuple(tuple(read_wav(speak(t, voice)).canonical() for t in call) for call in calls),
                    read_wav(speak(BARGE, voice)).canonical())


@dataclass
class Listening:
    """The Engine seam with no dialogue: it only says what the prompt expects (endpointing
    measurements: scripts/eval_turn_end.py, bench_latency.py --decisions, tests)."""

    expect: Any
    record: Any = field(default_factory=lambda: _record())
    done: bool = False
    state: str = "listening"
    hold_records: bool = False

    @property
    def expecting(self) -> Any:
        return self.expect

    def start(self) -> list:
        return []

    def handle(self, event) -> list:
        return []

    def hangup(self) -> list:
        return []

    def advance(self, seconds: float) -> None:
        pass

    def flush_records(self) -> None:
        pass


def _record():
    from voicebot.flow.record import CallRecord

    return CallRecord("listening", None, NOON)


class NeverBargeIn:
    """The blocking path: prompts always play to the end."""

    def hear(self, caller, played, voiced) -> Heard:
        return Heard(voiced, False)

    def reset(self) -> None:
        pass


def _loud(audio: Audio) -> np.ndarray:
    return np.flatnonzero(np.abs(audio.samples.astype(np.int32)) > LOUD)


def speech_end(audio: Audio) -> int:
    loud = _loud(audio)
    return int(loud[-1]) if loud.size else 0


def speech_start(audio: Audio) -> int:
    loud = _loud(audio)
    return int(loud[0]) if loud.size else 0


def session_for(stack: Any, flow: Any, store: Any, blocking: bool, voicemail_dir: Path) -> Any:
    from voicebot.flow import CallEngine
    from voicebot.pipeline import Session

    engine = CallEngine(flow, store, now=NOON)
    if blocking:
        return Session(engine, stack, inline=True, barge_in=NeverBargeIn(), voicemail_dir=voicemail_dir)
    return Session(engine, stack, voicemail_dir=voicemail_dir)


STAGES = ("vad_tail_ms", "endpoint_ms", "handoff_ms", "asr_ms", "nlu_ms", "flow_ms", "tts_first_ms",
          "glue_ms", "lead_ms", "read_ms")


def paced_call(session: Any, turns: tuple[Audio, ...], stalls: list[float]) -> list[dict]:
    """Play `turns` at 1x, each after the bot has spoken and gone quiet; latencies per turn.
    `stalls` gets how long each push+read took: the audio path's hold-up of a frame's cadence.

    A caller frame is pushed when its last sample has been said (as a live line delivers it: the
    frame holding the last loud sample reaches the Session up to one frame after that sample); the
    bot's frame plays from the moment it is read."""
    ms, rate = LINE_FRAME_MS, session.rate
    hop = rate * ms // 1000
    silence = Audio.silence(ms / 1000, rate)
    results, pending = [], list(turns)
    current: list[Audio] = []
    end_wall: float | None = None
    bot_spoke, quiet, end, end_frame, frame_no = False, 0, 0, 0, 0
    session.start()
    t0 = time.perf_counter()
    i = 0
    while not session.done and i < MAX_CALL_S * 1000 // ms:
        if not current and pending and bot_spoke and quiet * ms >= QUIET_AFTER_BOT_S * 1000:
            turn = pending.pop(0)
            end = speech_end(turn)
            current = list(turn.frames(ms))
            end_frame, bot_spoke, end_wall, frame_no = end // hop, False, None, 0
        if current:
            frame = current.pop(0)
            if frame_no == end_frame:  # this frame's audio was said during the frame before its push
                end_wall = t0 + (i - 1) * ms / 1000 + (end - end_frame * hop) / rate
            frame_no += 1
        else:
            frame = silence
        before = time.perf_counter()
        session.push(frame)
        bot = session.read(ms)
        now = time.perf_counter()
        stalls.append((now - before) * 1000)
        loud = _loud(bot)
        if loud.size:
            bot_spoke, quiet = True, 0
            if end_wall is not None:
                first = max(now, t0 + i * ms / 1000) + loud[0] / rate
                results.append({"latency_ms": (first - end_wall) * 1000, "_end": end_wall, "_first": first})
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
    for result, (timing, lead, kind) in zip(results, _timings(session.events, rate)):
        result.update(_stages(result.pop("_end"), result.pop("_first"), timing, lead), prompt=kind)
    for result in results:
        result.pop("_end", None), result.pop("_first", None)
    return results


def _timings(events: list, rate: int) -> list[tuple[Any, float, str]]:
    """Each turn's TurnTiming with the leading quiet (ms) of the first prompt it queued and the
    kind of prompt it answered."""
    from voicebot.events import SpeechEnded, Spoken
    from voicebot.flow.actions import Ask
    from voicebot.pipeline.events import TurnTiming

    out, lead, kind, answered = [], None, "", ""
    for event in events:
        if isinstance(event, SpeechEnded):
            lead, answered = None, kind
        elif isinstance(event, Ask):
            kind = event.expect.kind
        elif isinstance(event, Spoken) and lead is None:
            lead = speech_start(event.audio) * 1000 / rate
        elif isinstance(event, TurnTiming):
            out.append((event, lead or 0.0, answered))
            lead = None
    return out


def _stages(end: float, first: float, t: Any, lead_ms: float) -> dict:
    """Every millisecond from the caller's last loud sample to the bot's first one, in order:
    the VAD's own tail (last loud sample → last frame it calls voiced, plus pacing lag), the
    hang-over/end-of-turn wait, the hand-off to a worker, ASR, NLU, flow, TTS first sentence,
    glue between the stages, the prompt's leading quiet, and the wait for the audio path's read."""
    endpoint_wall = (t.ended_at - end) * 1000
    work = (t.queued_at - t.picked_at) * 1000
    out = (first - t.queued_at) * 1000
    stages = {"vad_tail_ms": endpoint_wall - t.endpoint_ms, "endpoint_ms": t.endpoint_ms,
              "handoff_ms": (t.picked_at - t.ended_at) * 1000, "asr_ms": t.asr_ms, "nlu_ms": t.nlu_ms,
              "flow_ms": t.flow_ms, "tts_first_ms": t.tts_first_ms,
              "glue_ms": work - t.asr_ms - t.nlu_ms - t.flow_ms - t.tts_first_ms,
              "lead_ms": lead_ms, "read_ms": out - lead_ms}
    # which decode ended the turn, the pause it started at, its wait for a worker and its own time
    decode = {"ended_by": t.ended_by, "decode_at_pause_ms": t.decode_at_pause_ms,
              "decode_wait_ms": t.decode_wait_ms, "decode_ms": t.decode_ms}
    return {**{k: round(v, 1) for k, v in stages.items()}, "speculative": t.speculative, **decode}


def barge_in_stop(session: Any, words: Audio, at_s: float = 2.0) -> float:
    """Caller talks over the greeting at `at_s`: ms from their onset until the bot goes quiet
    (NaN: the prompt played on)."""
    ms, rate = LINE_FRAME_MS, session.rate
    caller = Audio.silence(at_s, rate) + words + Audio.silence(2.0, rate)
    onset = int(at_s * rate) + speech_start(words)
    session.start()
    t0 = time.perf_counter()
    stop = None
    for i, frame in enumerate(caller.frames(ms)):
        session.push(frame)
        bot = session.read(ms).samples
        position = i * rate * ms // 1000
        quiet = np.abs(bot.astype(np.int32)).max(initial=0) < 50
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
    return round(float(np.percentile(values, q)), 1) if values else None


def summarise(turns: list[dict], stops: list[float], stalls: list[float]) -> dict:
    latencies = [t["latency_ms"] for t in turns]
    stages = {k: pct([t[k] for t in turns if k in t], 50) for k in STAGES}
    means = {k: round(float(np.mean([t[k] for t in turns if k in t])), 1) for k in STAGES
             if any(k in t for t in turns)}
    return {"turn_latency_p50_ms": pct(latencies, 50), "turn_latency_p95_ms": pct(latencies, 95),
            "barge_in_stop_ms_p95": pct(stops, 95), "turns": len(turns),
            "audio_path_stall_ms_max": round(max(stalls), 1) if stalls else None,
            "speculative_share": round(sum(bool(t.get("speculative")) for t in turns) / max(1, len(turns)), 2),
            "stages_p50_ms": stages,
            # means add up to the mean latency (p50s of parts do not add up to the p50 of a sum)
            "turn_latency_mean_ms": round(float(np.mean(latencies)), 1) if latencies else None,
            "stages_mean_ms": means, "per_turn": [{k: round(v, 1) if isinstance(v, float) else v
                                                   for k, v in t.items()} for t in turns]}


@contextmanager
def _fresh_session(stack: Any, flow: Any, blocking: bool) -> Iterator[Any]:
    """A Session on a fresh demo store of its own (no call sees another's agent claims or locks)."""
    from voicebot.evalcalls import fresh_store

    with tempfile.TemporaryDirectory(prefix="voicebot-bench-") as tmp:
        store = fresh_store(Path(tmp))
        try:
            yield session_for(stack, flow, store, blocking, Path(tmp))
        finally:
            store.engine.dispose()


def one_call(stack: Any, flow: Any, turns: tuple[Audio, ...], blocking: bool, stalls: list[float]) -> list[dict]:
    with _fresh_session(stack, flow, blocking) as session:
        return paced_call(session, turns, stalls)


def one_barge_in(stack: Any, flow: Any, words: Audio, blocking: bool) -> float:
    with _fresh_session(stack, flow, blocking) as session:
        return barge_in_stop(session, words)


def compare(stack: Any, flow: Any, mat: Material, repeat: int = 1) -> dict:
    """The calls one after another, real-time Session then the blocking baseline."""
    out = {}
    for name, blocking in (("realtime", False), ("baseline_blocking", True)):
        turns, stops, stalls = [], [], []
        for _ in range(repeat):
            for call in mat.calls:
                turns += one_call(stack, flow, call, blocking, stalls)
            stops.append(one_barge_in(stack, flow, mat.barge, blocking))
        out[name] = summarise(turns, stops, stalls)
    base, now = out["baseline_blocking"]["turn_latency_p50_ms"], out["realtime"]["turn_latency_p50_ms"]
    return {**{k: out["realtime"][k] for k in ("turn_latency_p50_ms", "turn_latency_p95_ms", "barge_in_stop_ms_p95")},
            **out, "p50_speedup": round(base / now, 2) if base and now else None}


def warm(stack: Any, mat: Material) -> None:
    """First decode allocates; the intent model loads on first use: not a caller's wait."""
    stack.recognizer.transcribe(mat.calls[0][0])
    stack.nlu.understand("warm up the intent model")
