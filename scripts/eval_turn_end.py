"""How the Session's own endpointing ends caller turns, on a DEVELOPMENT set of telephone turns
(never the latency benchmark's calls): per prompt kind, the hang-over and the speculative decode at
the first short pause (kept, and the turn ended, only when the words already answer the prompt).

Turns (voicebot.turngen: 8 kHz μ-law line, noise 20 dB down, Piper / flite slt / espeak en-us):
  intent  turngen.DEV_SENTENCES, complete, and hesitating (cut after word k with mid-sentence
          prosody, a pause of 0.3 / 0.5 s, then the rest)
  yesno   short answers that go on after their first word ("yes ... that's right")
  digits  an 8-digit ID and a 4-digit PIN said in two groups (pause 0.3 / 0.5 s), and whole
Each turn goes through a fresh Session (real Whisper, real NLU) frame by frame in virtual time.
Reported per setting, per kind:
  false_endpoint_rate  turns ended before the caller's last word (cut off mid-sentence or at a
                       hesitation; the definition the latency work must not make worse)
  cut_off              how many of them (callers cut off early)
  end_wait_ms_mean     true end of speech → turn ended, mean over the turns ended after it, in
                       virtual time (a decode takes no time: what the endpointing rule waits)
  latency_ms p50/p95   true end of speech → turn ended, for turns ended after it; a turn ended by
                       a speculative decode ends no sooner than that decode's start plus its wall
                       time on this machine (in a live call the decision waits for it; replays run
                       in virtual time, where a decode takes none)
  decodes_per_turn     recognitions run per turn (speculations dropped because the caller went on
                       included): the CPU price of speculating early

    python scripts/eval_turn_end.py [--json] [--speculate-at MS,MS|off] [--end-at MS,MS] [--snr-db 20]
        [--kinds intent,yesno,digits] [--pause-below-db DB,off] [--voices piper,flite:slt]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from voicebot import turngen  # noqa: E402
from voicebot.audio import Audio  # noqa: E402
from voicebot.bench.latency import Listening  # noqa: E402
from voicebot.events import SpeechEnded  # noqa: E402
from voicebot.flow.actions import Ask, Expect  # noqa: E402
from voicebot.pipeline import session as session_mod  # noqa: E402
from voicebot.pipeline import speculation  # noqa: E402
from voicebot.pipeline.events import TurnTiming  # noqa: E402

VOICES = ("piper", "flite:slt", "espeak:en-us")
PAUSES = (0.3, 0.5)
OFF = 10 ** 6  # --speculate-at off: the early decode never starts
# Development answers (distinct from the benchmark's "no thank you", "no that's all", 12345678, 2468)
YESNO = [("yes that's right", 1), ("no not at the moment", 1), ("yes please go ahead", 1),
         ("no I don't think so", 1)]
DIGITS = [(("eight seven six five", "four three two one"), 8), (("nine one", "three five"), 4),
          (("three three seven zero", "five one two nine"), 8), (("six oh", "four two"), 4)]


@dataclass
class Case:
    kind: str
    expect: Expect
    audio: Audio
    speech_end: int  # the caller's last sample of speech (16 kHz)
    label: str


def cases(voices: tuple[str, ...], snr_db: float = turngen.SNR_DB) -> tuple[list[Case], list[str]]:
    out, skipped = [], []
    tail = int(turngen.TAIL_S * turngen.RATE)
    for voice in voices:
        for i, (text, k) in enumerate(turngen.DEV_SENTENCES + YESNO):
            kind = "intent" if i < len(turngen.DEV_SENTENCES) else "yesno"
            expect = Expect(kind)
            t = turngen.turn(text, voice, seed=i, snr_db=snr_db)
            out.append(Case(kind, expect, t.audio, t.speech_end, f"{voice}|{text}|whole"))
            for pause in PAUSES:
                try:
                    t = turngen.turn(text, voice, cut_after=k, pause_s=pause, seed=i, snr_db=snr_db)
                except ValueError:  # Whisper could not align the render word by word
                    skipped.append(f"{voice}|{text}")
                    break
                out.append(Case(kind, expect, t.audio, t.audio.num_samples - tail, f"{voice}|{text}|{pause}"))
        for i, (groups, length) in enumerate(DIGITS):
            expect = Expect("digits", length)
            for pause in (0.0, *PAUSES):
                t = turngen.groups(groups, voice, pause, seed=100 + i, snr_db=snr_db)
                out.append(Case("digits", expect, t.audio, t.audio.num_samples - tail,
                                f"{voice}|{' / '.join(groups)}|{pause}"))
    return out, skipped


def run(case: Case, stack) -> dict:
    from voicebot.pipeline import Session

    session = Session(Listening(case.expect), stack)
    session.listen(Ask("", case.expect), "eval")
    closes: list[int] = []
    decodes: list[tuple[int, float]] = []  # (sample the decode started at, its wall time in ms)
    speculate = session._runner.speculate

    def timed(audio, expect):
        at, started = session._pushed, time.perf_counter()  # the audio path waits in settle()
        try:
            return speculate(audio, expect)
        finally:
            decodes.append((at, (time.perf_counter() - started) * 1000))

    session._runner.speculate = timed
    session.subscribe(lambda e: closes.append(round(session.now * session.rate)) if isinstance(e, SpeechEnded) else None)
    for frame in case.audio.frames(session.frame_ms):
        session.push(frame)
        session.settle()
    session.settle()
    timings = [e for e in session.events if isinstance(e, TurnTiming)]
    if not closes:
        return {"label": case.label, "kind": case.kind, "ended": False}
    first = closes[0]
    by_decode = bool(timings) and timings[0].endpoint_ms < session._ep.hang_over_ms
    decided = [(at, ms) for at, ms in decodes if at <= first]
    at, wait = decided[-1] if by_decode and decided else (first, 0.0)
    ended = max(first, at + wait * session.rate / 1000)  # the close waits for the deciding decode
    false_end = first < case.speech_end - session.rate * session.frame_ms // 1000
    latency = (ended - case.speech_end) * 1000 / session.rate
    wait_ms = (first - case.speech_end) * 1000 / session.rate  # virtual time: decodes take none
    return {"label": case.label, "kind": case.kind, "ended": True, "false_endpoint": false_end,
            "latency_ms": None if false_end else round(latency, 1), "by_decode": by_decode,
            "end_wait_ms": None if false_end else round(wait_ms, 1),
            "decode_ms": round(wait, 1), "decodes": len(decodes)}


def summarise(rows: list[dict]) -> dict:
    out = {}
    for kind in sorted({r["kind"] for r in rows}) + ["all"]:
        sel = [r for r in rows if kind in ("all", r["kind"])]
        lat = [r["latency_ms"] for r in sel if r.get("latency_ms") is not None]
        waits = [r["end_wait_ms"] for r in sel if r.get("end_wait_ms") is not None]
        out[kind] = {"turns": len(sel), "cut_off": sum(bool(r.get("false_endpoint")) for r in sel),
                     "false_endpoint_rate": round(np.mean([bool(r.get("false_endpoint")) for r in sel]), 3),
                     "end_wait_ms_mean": round(float(np.mean(waits)), 1) if waits else None,
                     "never_ended": sum(not r["ended"] for r in sel),
                     "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat else None,
                     "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if lat else None,
                     "ended_by_decode": round(np.mean([bool(r.get("by_decode")) for r in sel]), 2),
                     "decodes_per_turn": round(np.mean([r.get("decodes", 0) for r in sel]), 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--speculate-at", default="",
                        help="comma-separated quiet (ms) at which the early decode starts, one run each "
                             "(off: no early decode, only the standard one; default: the Session's own)")
    parser.add_argument("--end-at", default="",
                        help="comma-separated least pauses (ms, every prompt kind) at which a complete "
                             "speculative decode ends the turn, one run each (default: the Session's own)")
    parser.add_argument("--pause-below-db", default="",
                        help="comma-separated VadConfig.pause_below_db values (off: webrtcvad alone), one run each")
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--snr-db", type=float, default=turngen.SNR_DB,
                        help="line noise below the speech (20: the development line; 60: a quiet line, "
                             "where the VAD's pause gate acts)")
    parser.add_argument("--kinds", default="intent,yesno,digits", help="which prompt kinds to run")
    parser.add_argument("--rows", action="store_true", help="every turn's outcome in the JSON")
    args = parser.parse_args()
    from voicebot.pipeline import Stack

    stack = Stack.load(asr="whisper", tts=None)
    todo, skipped = cases(tuple(args.voices.split(",")), args.snr_db)
    todo = [c for c in todo if c.kind in args.kinds.split(",")]
    stack.recognizer.transcribe(todo[0].audio)  # the first decode allocates: not a caller's wait
    result = {"hang_over_ms": session_mod.HANG_OVER_MS, "skipped_unalignable": skipped, "snr_db": args.snr_db,
              "load_average_1min": round(os.getloadavg()[0], 2), "settings": {}}
    own, own_end = speculation.SPECULATE_AT_MS, dict(speculation.END_AT_MS)
    gates = [None if v == "off" else float(v) for v in args.pause_below_db.split(",")] if args.pause_below_db \
        else [stack.vad.pause_below_db]
    for gate in gates:
        stack.vad = replace(stack.vad, pause_below_db=gate)
        for at in [OFF if v == "off" else int(v) for v in args.speculate_at.split(",")] if args.speculate_at else [None]:
            for end in [int(v) for v in args.end_at.split(",")] if args.end_at else [None]:
                speculation.SPECULATE_AT_MS = at or own
                speculation.END_AT_MS = {k: end for k in own_end} if end else own_end
                rows = [run(c, stack) for c in todo]
                name = f"gate {gate} dB, speculate at {at or 'default'}, end at {end or 'default'}"
                result["settings"][name] = {"pause_below_db": gate, "speculate_at_ms": speculation.SPECULATE_AT_MS,
                                            "end_at_ms": speculation.END_AT_MS,
                                            **summarise(rows), **({"rows": rows} if args.rows else {})}
                for kind, s in summarise(rows).items():  # progress on stderr, the JSON on stdout
                    print(f"{name}  {kind:7s} {s}", file=sys.stderr if args.json else sys.stdout, flush=True)
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
