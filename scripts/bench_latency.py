"""Turn latency and barge-in of real-time calls at 1x through the Session, beside the blocking
path in the same run (voicebot/bench/latency.py; `voicebot bench` runs the same measurement
with everything else).

    python scripts/bench_latency.py [--json] [--repeat N] [--frame-ms 20]
    python scripts/bench_latency.py --decisions   # where each turn ends, in virtual time

`--decisions`: the benchmark's turns, one Session each at the prompt kind it answers, replayed in
virtual time (a decode takes no time): the pause at which each turn ends and whether the early
decode ended it, i.e. what the endpointing decides when decodes keep up (no CPU speed in it).

Per turn the stages add up to the latency (`per_turn`; `stages_mean_ms` sum to
`turn_latency_mean_ms`). The load average is printed: compare against the baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from voicebot.bench import latency  # noqa: E402
from voicebot.flow import load_flow  # noqa: E402
from voicebot.pipeline import Stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--frame-ms", type=int, default=latency.LINE_FRAME_MS,
                        help="the line's cadence: caller frames in and bot frames out (RTP: 20 ms)")
    parser.add_argument("--decisions", action="store_true", help="where each turn ends, in virtual time")
    args = parser.parse_args()
    if args.decisions:
        return decisions()
    latency.LINE_FRAME_MS = args.frame_ms
    load_start = round(os.getloadavg()[0], 2)  # other jobs on the cores inflate every time
    flow = load_flow(ROOT / "flows" / "bank.yml")
    stack = Stack.load(asr="whisper", tts="piper")
    stack.prompts.follow(flow)  # the flow's caching policy, as `serve` and `call` take it
    mat = latency.material()
    latency.warm(stack, mat)
    result = {**latency.compare(stack, flow, mat, args.repeat), "line_frame_ms": args.frame_ms,
              "cpu_count": os.cpu_count(),
              "load_average_1min_start": load_start, "load_average_1min": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name in ("realtime", "baseline_blocking"):
        r = result[name]
        print(f"{name:18s} p50 {r['turn_latency_p50_ms']} ms  p95 {r['turn_latency_p95_ms']} ms  "
              f"barge-in stop p95 {r['barge_in_stop_ms_p95']} ms (None: plays to the end)  "
              f"audio path held up to {r['audio_path_stall_ms_max']} ms  ({r['turns']} turns)  "
              f"stages p50 {r['stages_p50_ms']}")
        print(f"{'':18s} mean {r['turn_latency_mean_ms']} ms = stages (mean) {r['stages_mean_ms']}")
    print("\nrealtime, every turn (ms): latency = vad_tail + endpoint + handoff + asr + nlu + flow + tts_first"
          " + glue + lead + read; the kept decode: started at pause, waited, took")
    for t in result["realtime"]["per_turn"]:
        print(f"  {t['latency_ms']:7.1f}  {t.get('prompt', ''):7s} {t['ended_by']:26s} "
              + " ".join(f"{k[:-3]} {t[k]:.0f}" for k in latency.STAGES)
              + f"  | decode at {t['decode_at_pause_ms']} waited {t['decode_wait_ms']:.0f} took {t['decode_ms']:.0f}")
    print(f"p50 speed-up {result['p50_speedup']}x; {result['cpu_count']} cores, load average "
          f"{result['load_average_1min_start']} at start, {result['load_average_1min']} at end")


KINDS = ((("intent",), ("yesno",), ("csat",)),
         (("intent",), ("digits", 8), ("digits", 4), ("yesno",), ("csat",)),
         (("intent",), ("digits", 8), ("digits", 4), ("yesno",), ("csat",), ("csat",)))  # the prompts
# latency.CALLS answer in flows/bank.yml (the third caller says "yes" to the rating question: the
# flow asks again, and the caller answers "three")


def decisions() -> None:
    from voicebot.audio import Audio
    from voicebot.events import Transcript
    from voicebot.flow.actions import Ask, Expect
    from voicebot.pipeline import Session
    from voicebot.pipeline.events import TurnTiming

    stack = Stack.load(asr="whisper", tts=None)
    for call, kinds in zip(latency.material().calls, KINDS):
        for audio, kind in zip(call, kinds):
            expect = Expect(*kind)
            session = Session(latency.Listening(expect), stack)
            session.listen(Ask("", expect), "bench")
            for frame in (audio + Audio.silence(1.5)).frames(session.frame_ms):
                session.push(frame)
                session.settle()
            timing = next(e for e in session.events if isinstance(e, TurnTiming))
            heard = next(e for e in session.events if isinstance(e, Transcript))
            print(f"{':'.join(map(str, kind)):9s} ended at {timing.endpoint_ms} ms of pause "
                  f"({timing.ended_by})  {heard.text!r}")


if __name__ == "__main__":
    main()
