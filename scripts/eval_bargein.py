"""Barge-in detection on telephone-line scenes (voicebot.linegen): a caller talking over a
prompt whose echo comes back at -10 dB, versus echo alone, noise bursts, cough-like bursts and
clicks over the same prompts. For each VAD (Silero, webrtcvad, both) and echo canceller:

  detected      callers whose speech fired the detector (of all caller scenes)
  latency_ms    from the true speech onset (measured on a noise-free render) to the end of the
                20 ms frame whose push returned the decision, in samples: p50 / p95 / max — the
                Session stops playback on that frame
  early         fires before the caller's onset (on echo: a false barge-in)
  false_alarms  fires on echo-only, noise, cough and click scenes (of all such scenes)

    python scripts/eval_bargein.py [--json]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import run  # noqa: E402

from voicebot.linegen import CALLERS, PROMPTS, barge_in_on, burst, caller_audio, scene  # noqa: E402
from voicebot.vad.bargein import BargeInConfig  # noqa: E402

NOISES = [("noise", 100), ("noise", 200), ("pink", 150), ("pink", 300), ("cough", 150), ("cough", 250), ("click", 5)]
# (VAD, echo canceller, min_speech_ms, voicing threshold; 0 = no voicing check)
CONFIGS = [("silero", "webrtc", 32, 0.5), ("silero", "webrtc", 32, 0.0), ("silero", "webrtc", 64, 0.0),
           ("silero", "webrtc", 96, 0.0), ("both", "webrtc", 32, 0.5), ("webrtc", "webrtc", 32, 0.5),
           ("webrtc", "webrtc", 64, 0.0), ("silero", "speex", 32, 0.5), ("silero", "off", 32, 0.5)]


def evaluate() -> dict:
    results = {}
    for vad, aec, min_ms, voicing in CONFIGS:
        config = BargeInConfig(vad=vad, min_speech_ms=min_ms, voicing=voicing)
        lat, early, missed, false = [], 0, 0, 0
        n_neg = 0
        for i, prompt in enumerate(PROMPTS):
            for j, (words, voice) in enumerate(CALLERS):
                audio, onset = caller_audio(words, voice)
                sc = scene(prompt, audio, at_s=1.0 + 0.25 * j, onset_in_event=onset, seed=10 * i + j)
                heard = barge_in_on(sc, aec, config)
                if heard is None:
                    missed += 1
                elif heard.decided_sample < 2 * sc.onset_sample:
                    early += 1
                else:
                    lat.append((heard.decided_sample - 2 * sc.onset_sample) / 16.0)
            negatives = [None] + [burst(kind, ms, seed=k) for k, (kind, ms) in enumerate(NOISES)]
            for k, event in enumerate(negatives):  # seeds differ from the tests'
                n_neg += 1
                false += barge_in_on(scene(prompt, event, at_s=1.5, seed=100 + 10 * i + k), aec, config) is not None
        n_pos = len(PROMPTS) * len(CALLERS)
        results[f"{vad}+{aec}/{min_ms}ms/v{voicing}"] = {
            "vad": vad, "echo_canceller": aec, "min_speech_ms": min_ms, "voicing": voicing, "callers": n_pos,
            "detected": n_pos - missed - early, "early": early, "missed": missed,
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat else None,
            "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if lat else None,
            "latency_ms_max": round(float(np.max(lat)), 1) if lat else None,
            "negatives": n_neg, "false_alarms": false}
    # cost of the whole audio path per 20 ms frame (echo canceller, resampler, detector), on a
    # scene with no barge-in so every frame is processed
    quiet = scene(PROMPTS[0], None, seed=999)
    started = time.perf_counter()
    barge_in_on(quiet, "webrtc", BargeInConfig())
    per_frame = (time.perf_counter() - started) * 1000 / (quiet.near.duration / 0.02)
    return {"audio_path_ms_per_20ms_frame": round(per_frame, 3), "echo_level_db": -10.0, "line": "8 kHz, 300-3400 Hz, noise -50 dBFS",
            "noises": [f"{k} {ms} ms" for k, ms in NOISES], "results": results}


def table(report: dict) -> list[str]:
    lines = [f"audio path (echo canceller + resampler + Silero detector): {report['audio_path_ms_per_20ms_frame']} ms per 20 ms frame",
             f"{'vad+aec/min/voicing':27} {'detected':>9} {'early':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'false alarms':>13}"]
    for key, r in report["results"].items():
        lines.append(f"{key:27} {r['detected']:>4}/{r['callers']:<4} {r['early']:6} {r['latency_ms_p50']!s:>7} "
                     f"{r['latency_ms_p95']!s:>7} {r['latency_ms_max']!s:>7} {r['false_alarms']:>6}/{r['negatives']}")
    return lines


if __name__ == "__main__":
    run(__doc__, evaluate, table)
