"""Benchmark the NLU as the call pipeline uses it: model load time and per-utterance latency
(intent + entities + sentiment, batch of one). Prints JSON.

Usage: python scripts/bench_nlu.py [--model DIR] [--repeat N]"""

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
    args = parser.parse_args()
    started = time.perf_counter()
    from voicebot.nlu import load_model

    nlu = load_model(args.model)
    nlu.understand("warm up")  # first call builds the spaCy matcher and VADER lexicon
    load_seconds = time.perf_counter() - started
    latencies = []
    for _ in range(args.repeat):
        for text in UTTERANCES:
            t = time.perf_counter()
            nlu.understand(text)
            latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    import torch

    print(json.dumps({
        "model": str(nlu.path),
        "load_seconds": round(load_seconds, 2),
        "utterances": len(latencies),
        "latency_ms": {
            "mean": round(statistics.mean(latencies), 2),
            "p50": round(latencies[len(latencies) // 2], 2),
            "p95": round(latencies[int(len(latencies) * 0.95)], 2),
            "max": round(latencies[-1], 2),
        },
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
