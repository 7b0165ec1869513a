"""Echo cancellers on simulated telephone-line and loudspeaker echo of the bot's own prompts.

For each prompt (Piper, as the bot speaks it) at 8 kHz, the near end is its echo at -10 dB through
a line hybrid or a room (voicebot.audio.echo_path), plus 40 dB-down noise, plus — in the
double-talk half — a caller sentence (flite/espeak voices) starting 1.5 s into the prompt.
Reported per backend and echo path:
  erle_db        echo return loss enhancement on echo-only audio after 1 s (higher is better)
  caller_wer     Whisper's WER on the caller's words cut from the output when the prompt plays on
                 under them (what matters downstream: the words still recognised; 'off' = echo left in)
  caller_wer_prompt_stopped  the same when the prompt stops 150 ms after the caller's onset, as
                 barge-in does: double talk lasts only that long
  ms_per_10ms    processing time per 10 ms block (one core)

    python scripts/eval_echo.py [--json]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import run  # noqa: E402

from voicebot.asr import get_recognizer
from voicebot.asr.wer import corpus_wer
from voicebot.audio.echo import cancel
from voicebot.audio.echo_path import echo_of, mix, place
from voicebot.audio.types import Audio
from voicebot.audio.wavio import read_wav
from voicebot.linegen import CALLERS, PROMPTS, speech_onset
from voicebot.speechgen import TELEPHONE_QUIET, speak

RATE = 8000
BACKENDS = ("off", "speex", "webrtc")


def _noise(n: int, level_db: float, seed: int) -> Audio:
    return Audio.from_float(np.random.default_rng(seed).normal(0, 10 ** (level_db / 20), n), RATE)


def _power_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-9)


def evaluate() -> dict:
    rows: dict[str, dict] = {}
    asr = get_recognizer()
    for kind in ("line", "room"):
        for backend in BACKENDS:
            erle, pairs, pairs_stopped, cost = [], [], [], []
            for i, text in enumerate(PROMPTS):
                far = read_wav(speak(text, "piper")).canonical(RATE)
                echo = echo_of(far, kind, -10.0, 40.0 if kind == "line" else 5.0, seed=i)
                noise = _noise(far.num_samples, -55.0, seed=100 + i)
                near = mix(echo, noise)
                started = time.perf_counter()
                out = cancel(near, far, backend)
                cost.append((time.perf_counter() - started) * 1000 / (far.num_samples / (RATE / 100)))
                tail = slice(RATE, None)  # after a second of adaptation
                erle.append(_power_db(near.samples[tail]) - _power_db(out.samples[tail]))
                # double talk: a caller starts 1.5 s into the prompt (two callers per prompt)
                for words, voice in (CALLERS[i], CALLERS[i + len(PROMPTS)]):
                    caller = read_wav(speak(words, voice, TELEPHONE_QUIET)).canonical(RATE)
                    caller_at = place(caller, 1.5, far.duration)
                    out_dt = cancel(mix(echo, noise, caller_at), far, backend)
                    heard = out_dt.slice(1.4, 1.5 + caller.duration + 0.2)
                    pairs.append((words, asr.transcribe(heard.canonical()).text))
                    # as in a call: barge-in stops the prompt 150 ms after the caller's onset
                    stop = int((1.5 + 0.15) * RATE) + speech_onset(caller)
                    far_cut = Audio(np.concatenate([far.samples[:stop], np.zeros(far.num_samples - stop, np.int16)]), RATE)
                    echo_cut = echo_of(far_cut, kind, -10.0, 40.0 if kind == "line" else 5.0, seed=i)
                    heard = cancel(mix(echo_cut, noise, caller_at), far_cut, backend).slice(1.4, 1.5 + caller.duration + 0.2)
                    pairs_stopped.append((words, asr.transcribe(heard.canonical()).text))
            rows[f"{backend}/{kind}"] = {"backend": backend, "echo_path": kind,
                                         "erle_db": round(float(np.mean(erle)), 1),
                                         "caller_wer": round(corpus_wer(pairs), 3),
                                         "caller_wer_prompt_stopped": round(corpus_wer(pairs_stopped), 3),
                                         "ms_per_10ms": round(float(np.mean(cost)), 3)}
    # reference: the same caller slices with no prompt playing at all
    clean_pairs = []
    for i, text in enumerate(PROMPTS):
        far = read_wav(speak(text, "piper")).canonical(RATE)
        noise = _noise(far.num_samples, -55.0, seed=100 + i)
        for words, voice in (CALLERS[i], CALLERS[i + len(PROMPTS)]):
            caller = read_wav(speak(words, voice, TELEPHONE_QUIET)).canonical(RATE)
            heard = mix(noise, place(caller, 1.5, far.duration)).slice(1.4, 1.5 + caller.duration + 0.2)
            clean_pairs.append((words, asr.transcribe(heard.canonical()).text))
    return {"rate": RATE, "echo_level_db": -10.0, "prompts": len(PROMPTS),
            "caller_wer_no_prompt": round(corpus_wer(clean_pairs), 3), "results": rows}


def table(report: dict) -> list[str]:
    lines = [f"caller WER with no prompt playing (reference): {report['caller_wer_no_prompt']}",
             f"{'backend/path':16} {'ERLE dB':>8} {'caller WER':>11} {'WER, prompt stopped':>20} {'ms/10ms':>8}"]
    for key, r in report["results"].items():
        lines.append(f"{key:16} {r['erle_db']:8.1f} {r['caller_wer']:11.3f} {r['caller_wer_prompt_stopped']:20.3f} "
                     f"{r['ms_per_10ms']:8.3f}")
    return lines


if __name__ == "__main__":
    run(__doc__, evaluate, table)
