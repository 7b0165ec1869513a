"""Benchmark the NLU as the call pipeline uses it: model load time and per-utterance latency
(intent + entities + sentiment, batch of one), and how much of it is the MiniLM encoder. Prints JSON.

Usage: python scripts/bench_nlu.py [--model DIR] [--repeat N] [--backend onnx|torch]"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

UTTERANCES = [
    "I'd like to check my balance",
    "transfer two hundred and fifty dollars to my savings account tomorrow",
    "my customer id is one two three four five six seven eight",
    "that's my fourth call this month about it and nobody has sorted it out",
    "yeah",
    "what's the weather like",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--backend", choices=["onnx", "torch"], default=None, help="MiniLM backend (default: onnx)")
    args = parser.parse_args()
    if args.backend:
        os.environ["VOICEBOT_NLU_BACKEND"] = args.backend
    started = time.perf_counter()
    from voicebot.nlu import load_model

    nlu = load_model(args.model)
    nlu.understand("warm up")  # first call builds the spaCy matcher and VADER lexicon
    load_seconds = time.perf_counter() - started
    latencies, encoder = [], []
    for _ in range(args.repeat):
        for text in UTTERANCES:
            t = time.perf_counter()
            nlu.understand(text)
            latencies.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            nlu.embedder.encode([text])
            encoder.append((time.perf_counter() - t) * 1000)
    print(json.dumps({
        "model": str(nlu.path),
        "backend": nlu.embedder.backend,
        "load_seconds": round(load_seconds, 2),
        "utterances": len(latencies),
        "latency_ms": summary(latencies),
        "encoder_only_ms": summary(encoder),
        "nlu_threads": int(os.environ.get("VOICEBOT_NLU_THREADS", "1")),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),  # other work on the box inflates every number
    }, indent=2))


def summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "mean": round(statistics.mean(ms), 2),
        "p50": round(ms[len(ms) // 2], 2),
        "p95": round(ms[int(len(ms) * 0.95)], 2),
        "max": round(ms[-1], 2),
    }


if __name__ == "__main__":
    main()
