"""Barge-in through the real Session: the telephone scenes of scripts/eval_bargein.py
(voicebot/linegen.py), played against each detector the Session can run (`Stack.barge_in`:
"silero", "energy") with and without its echo canceller (`Stack.echo`: "webrtc", "off").

The Session plays the prompt itself (a one-state flow asking it, Piper); the transport is an
8 kHz line in 20 ms frames (push one caller frame, read one bot frame). The caller channel is the
echo of exactly what the Session plays, made frame by frame (-10 dB through a line hybrid, 40 ms), line noise at
-50 dBFS and the caller's speech or a non-speech sound at a known sample. Counted in samples:

  detected      callers whose speech paused the prompt (BargedIn) at or after their onset
  early         BargedIn before the caller's onset: it fired on the echo
  latency_ms    caller onset (noise-free render) -> the end of the caller frame on which the
                Session paused the prompt: p50 / p95 / max
  false         BargedIn on scenes without speech, by kind: echo alone, noise bursts, coughs, clicks

    python scripts/eval_session_bargein.py [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voicebot.audio import Audio  # noqa: E402
from voicebot.audio.echo_path import place  # noqa: E402
from voicebot.flow import CallEngine, flow_from_text  # noqa: E402
from voicebot.linegen import CALLERS, PROMPTS, RATE, Line, bot_audio, burst, caller_audio, echo_gain, first_barge_in, line_noise  # noqa: E402
from voicebot.pipeline import Session, Stack  # noqa: E402
from voicebot.store import open_store  # noqa: E402

FRAME_MS = 20
NEGATIVES = [("echo", None, 0), ("noise", "noise", 100), ("noise", "noise", 200), ("noise", "pink", 150),
             ("noise", "pink", 300), ("cough", "cough", 150), ("cough", "cough", 250), ("click", "click", 5)]
CONFIGS = [("silero", "webrtc"), ("energy", "webrtc"), ("silero", "off"), ("energy", "off")]


def _session(stack: Stack, prompt: str, db: Path) -> Session:
    flow = flow_from_text(f'name: scene\nstart: ask\nstates:\n  ask:\n    ask: "{prompt}"\n    expect: intent\n')
    return Session(CallEngine(flow, open_store(f"sqlite:///{db}", demo=True)), stack)


def evaluate() -> dict:
    base = Stack.load(asr=None, tts="piper")  # the detector decides; no recogniser is needed
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "eval.db"
        far = {p: (bot := bot_audio(_session(base, p, db)), echo_gain(bot)) for p in PROMPTS}
        for detector, echo in CONFIGS:
            stack = Stack(None, base.nlu, base.prompts, base.vad, barge_in=detector, echo=echo)
            lat, early, missed, fired = [], 0, 0, []
            false = {kind: [0, 0] for kind, _, _ in NEGATIVES}
            for i, prompt in enumerate(PROMPTS):
                bot, gain = far[prompt]
                total = bot.duration + 0.5

                def line(event: Audio | None, at_s: float, seed: int) -> Line:
                    sound = place(event if event is not None else Audio.silence(0.01, RATE), at_s, total)
                    return Line(gain, line_noise(sound.num_samples, seed + 1), sound)

                for j, (words, voice) in enumerate(CALLERS):
                    audio, onset = caller_audio(words, voice)
                    at = 1.0 + 0.25 * j
                    onset16 = 2 * (round(at * RATE) + onset)
                    hit = first_barge_in(_session(stack, prompt, db), line(audio, at, 10 * i + j))
                    if hit is None:
                        missed += 1
                    elif hit < onset16:
                        early += 1
                    else:
                        lat.append((hit - onset16) / 16.0)
                for k, (kind, sound, ms) in enumerate(NEGATIVES):
                    event = burst(sound, ms, seed=k) if sound else None
                    false[kind][1] += 1
                    if first_barge_in(_session(stack, prompt, db), line(event, 1.5, 100 + 10 * i + k)) is not None:
                        false[kind][0] += 1
                        fired.append(f"prompt {i}: {sound or 'echo'} {ms} ms" if sound else f"prompt {i}: echo")
            n = len(PROMPTS) * len(CALLERS)
            results[f"{detector}+{echo}"] = {
                "barge_in": detector, "echo": echo, "callers": n, "detected": len(lat), "early": early,
                "missed": missed,
                "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat else None,
                "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if lat else None,
                "latency_ms_max": round(float(np.max(lat)), 1) if lat else None,
                "false": {kind: f"{a}/{b}" for kind, (a, b) in false.items()},
                "false_total": sum(a for a, _ in false.values()), "negatives": sum(b for _, b in false.values()),
                "false_scenes": fired}
    # Piper renders a prompt slightly differently from one run to the next: figures move a little
    return {"line": "8 kHz, 20 ms frames, echo -10 dB (line hybrid, 40 ms), noise -50 dBFS",
            "session_rate": 16000, "results": results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)  # no recogniser: every barge-in's turn is logged as a failed decode
    report = evaluate()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'detector+echo':16} {'detected':>9} {'early':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}  false (echo, noise, cough, click)")
    for key, r in report["results"].items():
        f = r["false"]
        print(f"{key:16} {r['detected']:>4}/{r['callers']:<4} {r['early']:6} {r['latency_ms_p50']!s:>7} "
              f"{r['latency_ms_p95']!s:>7} {r['latency_ms_max']!s:>7}  {r['false_total']}/{r['negatives']} "
              f"({f['echo']}, {f['noise']}, {f['cough']}, {f['click']})")


if __name__ == "__main__":
    main()
