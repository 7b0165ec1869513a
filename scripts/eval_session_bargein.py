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

CPU (`--cpu-only` runs only this part, `--detection-only` skips it): the audio path's CPU time (thread time spent in the
Session's push and read: echo canceller, resampling, endpointer, detector, recording) per minute of
call audio, split by whether the bot was speaking, for the gated Silero detector (the default), the
same detector run on every frame (`SileroBargeIn(gate=False)`, as first merged) and the energy
detector as the baseline, over the same scenes in one run. Scenes run whole (a barge-in does not
end them): every caller scene above, a caller silent during the prompt (digital silence, as SIPp
sends no RTP) and a caller answering after the prompt. `silero_chunks` counts inferences against
32 ms chunks heard.

    python scripts/eval_session_bargein.py [--json] [--cpu-only | --detection-only]
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import run  # noqa: E402

from voicebot.audio import Audio  # noqa: E402
from voicebot.audio.echo_path import place  # noqa: E402
from voicebot.flow import CallEngine, flow_from_text  # noqa: E402
from voicebot.linegen import CALLERS, PROMPTS, RATE, Line, bot_audio, burst, caller_audio, echo_gain, first_barge_in, line_noise  # noqa: E402
from voicebot.pipeline import Session, Stack  # noqa: E402
from voicebot.pipeline.bargein import SileroBargeIn  # noqa: E402
from voicebot.pipeline.seams import BargeInDetector  # noqa: E402
from voicebot.vad import silero  # noqa: E402
from voicebot.store import open_store  # noqa: E402

FRAME_MS = 20
NEGATIVES = [("echo", None, 0), ("noise", "noise", 100), ("noise", "noise", 200), ("noise", "pink", 150),
             ("noise", "pink", 300), ("cough", "cough", 150), ("cough", "cough", 250), ("click", "click", 5)]
CONFIGS = [("silero", "webrtc"), ("energy", "webrtc"), ("silero", "off"), ("energy", "off")]


def _session(stack: Stack, prompt: str, db: Path, detector: BargeInDetector | None = None) -> Session:
    flow = flow_from_text(f'name: scene\nstart: ask\nstates:\n  ask:\n    ask: "{prompt}"\n    expect: intent\n')
    return Session(CallEngine(flow, open_store(f"sqlite:///{db}", demo=True)), stack, barge_in=detector)


class Timed:
    """A Session whose push and read add up the thread's CPU time and the caller audio pushed."""

    def __init__(self, session: Session, spent: list[float]) -> None:
        self._s, self._spent = session, spent

    def __getattr__(self, name):
        return getattr(self._s, name)

    def push(self, audio: Audio) -> None:
        started = time.thread_time()
        self._s.push(audio)
        self._spent[0] += time.thread_time() - started
        self._spent[1] += audio.duration

    def read(self, ms: int, rate: int | None = None) -> Audio:
        started = time.thread_time()
        out = self._s.read(ms, rate)
        self._spent[0] += time.thread_time() - started
        return out


CPU_DETECTORS = {"silero": lambda: SileroBargeIn(), "silero_every_frame": lambda: SileroBargeIn(gate=False),
                 "energy": lambda: None}
CPU_SCENES = {"silent_caller": "the prompt plays to a silent caller (digital silence, as SIPp sends no RTP)",
              "barge_in": "echo -10 dB + noise -50 dBFS, a caller talks over the prompt (6 per prompt)",
              "answer_after": "echo + noise, the caller answers 1 s after the prompt ended"}


def cpu(base: Stack, far: dict, db: Path, echo: str) -> dict:
    """CPU-seconds of the audio path per minute of call audio, per detector and kind of scene; the
    detectors take turns scene by scene (after one warm-up scene each) so load changes hit all."""
    from voicebot.linegen import run_line

    stack = Stack(None, base.nlu, base.prompts, base.vad, barge_in="energy", echo=echo)
    scenes: list[tuple[str, str, float, Audio, float, float, int]] = []
    for i, prompt in enumerate(PROMPTS):
        bot, gain = far[prompt]
        scenes.append(("silent_caller", prompt, 0.0, Audio.silence(0.01, RATE), 0.0, bot.duration + 0.5, 0))
        for j, (words, voice) in enumerate(CALLERS):
            audio, _ = caller_audio(words, voice)
            scenes.append(("barge_in", prompt, gain, audio, 1.0 + 0.25 * j, bot.duration + 0.5, 10 * i + j))
        audio, _ = caller_audio(*CALLERS[i])
        scenes.append(("answer_after", prompt, gain, audio, bot.duration + 1.0, bot.duration + 2.0 + audio.duration, 50 + i))
    spent = {(d, k): [0.0, 0.0] for d in CPU_DETECTORS for k in CPU_SCENES}
    inferences = dict.fromkeys(CPU_DETECTORS, 0)
    for n, (kind, prompt, gain, event, at, total, seed) in enumerate([scenes[0]] + scenes):
        sound = place(event, at, total)
        noise = line_noise(sound.num_samples, seed + 1) if gain else Audio.silence(sound.duration, RATE)
        for name, make in CPU_DETECTORS.items():
            before, cost = silero.INFERENCES[0], [0.0, 0.0]
            run_line(Timed(_session(stack, prompt, db, make()), cost), Line(gain, noise, sound))
            if n:  # the first run warms up (imports, first-use allocations)
                spent[name, kind][0] += cost[0]
                spent[name, kind][1] += cost[1]
                inferences[name] += silero.INFERENCES[0] - before
    out = {}
    for name in CPU_DETECTORS:
        rows = {k: round(spent[name, k][0] * 60 / spent[name, k][1], 3) for k in CPU_SCENES}
        cpu_s, audio_s = (sum(spent[name, k][i] for k in CPU_SCENES) for i in (0, 1))
        out[name] = {"all": round(cpu_s * 60 / audio_s, 3), **rows, "audio_min": round(audio_s / 60, 2),
                     "silero_chunks": f"{inferences[name]}/{int(audio_s * 1000 / 32)}"}
    return out


def evaluate(cpu_only: bool = False, detection_only: bool = False) -> dict:
    base = Stack.load(asr=None, tts="piper")  # the detector decides; no recogniser is needed
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "eval.db"
        far = {p: (bot := bot_audio(_session(base, p, db)), echo_gain(bot)) for p in PROMPTS}
        load = os.getloadavg()[0]
        costs = {} if detection_only else {echo: cpu(base, far, db, echo) for echo in ("off", "webrtc")}
        for detector, echo in [] if cpu_only else CONFIGS:
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
            "session_rate": 16000, "results": results,
            "cpu": {"unit": "CPU-seconds of the audio path per minute of call audio, by echo canceller",
                    "scenes": CPU_SCENES,
                    "load_average": [round(load, 2), round(os.getloadavg()[0], 2)], **costs}}


def table(report: dict) -> list[str]:
    c = report["cpu"]
    lines = [f"audio-path CPU-s per minute of call audio (load average {c['load_average']})",
             f"{'echo':7} {'detector':19} {'all':>6} " + " ".join(f"{k:>13}" for k in CPU_SCENES) + "  silero chunks"]
    for echo in [e for e in ("off", "webrtc") if e in c]:
        for name, r in c[echo].items():
            lines.append(f"{echo:7} {name:19} {r['all']:6} " + " ".join(f"{r[k]:13}" for k in CPU_SCENES)
                         + f"  {r['silero_chunks']}")
    if report["results"]:
        lines.append(f"{'detector+echo':16} {'detected':>9} {'early':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}  "
                     "false (echo, noise, cough, click)")
    for key, r in report["results"].items():
        f = r["false"]
        lines.append(f"{key:16} {r['detected']:>4}/{r['callers']:<4} {r['early']:6} {r['latency_ms_p50']!s:>7} "
                     f"{r['latency_ms_p95']!s:>7} {r['latency_ms_max']!s:>7}  {r['false_total']}/{r['negatives']} "
                     f"({f['echo']}, {f['noise']}, {f['cough']}, {f['click']})")
    return lines


if __name__ == "__main__":
    logging.disable(logging.CRITICAL)  # no recogniser: every barge-in's turn is logged as a failed decode
    run(__doc__, evaluate, table, {"cpu_only": "only the CPU comparison",
                                   "detection_only": "only the detection figures"})
