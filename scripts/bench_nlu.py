"""Benchmark the NLU as the call pipeline uses it: model load time and per-utterance latency
(intent + entities + sentiment, batch of one), and how much of it is the MiniLM encoder. Prints JSON.

  --figures       typed figures: intent accuracy on the dev and held-out phrases, sentiment macro-F1
                  on the dev and held-out sets (which set is which: docs/nlu.md, "Honest measurement")
  --dev-only      with --figures: the dev sets alone (while choosing, the held-out sets stay unread)
  --choose-nbest  the n-best gate / best-reading weight sweep on the development transcripts
                  (intents/test/heldout_asr_render3.jsonl) that NBEST_GATE and BEST_WEIGHT came from

Usage: python scripts/bench_nlu.py [--model DIR] [--repeat N] [--backend onnx|torch] [--figures [--dev-only]] [--choose-nbest]"""

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
    parser.add_argument("--figures", action="store_true")
    parser.add_argument("--dev-only", action="store_true")
    parser.add_argument("--choose-nbest", action="store_true")
    args = parser.parse_args()
    if args.figures or args.choose_nbest:
        from voicebot.nlu import load_model

        nlu = load_model(args.model)
        print(json.dumps(figures(nlu, args.dev_only) if args.figures else choose_nbest(nlu), indent=2))
        return
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


FIGURE_SETS = {  # name → (file, role)
    "intent_dev": ("intents/test/heldout.jsonl", "dev"),
    "intent_dev_styles": ("intents/dev/intent_dev_styles.jsonl", "dev"),
    "intent_heldout": ("intents/test/intent_heldout.jsonl", "held-out"),
    "sentiment_banking_dev": ("intents/dev/sentiment_banking_dev.jsonl", "dev"),
    "sentiment_banking_older": ("intents/test/sentiment_banking.jsonl", "dev"),
    "sentiment_banking_heldout": ("intents/test/sentiment_banking_heldout.jsonl", "held-out"),
    "sentiment_general": ("intents/test/sentiment_general.jsonl", "held-out"),
}


def figures(nlu, dev_only: bool = False) -> dict:
    from voicebot.nlu.dataset import load_rows
    from voicebot.nlu.evaluate import evaluate

    out = {}
    for name, (path, role) in FIGURE_SETS.items():
        if dev_only and role != "dev":
            continue
        report = evaluate(nlu, load_rows(ROOT / path, need_intent=False).examples)
        out[name] = {"set": path, "role": role, "n": report["n"],
                     **{k: round(report[k], 3) for k in ("intent_accuracy", "oos_recall", "sentiment_macro_f1")
                        if report.get(k) is not None}}
    return out


def choose_nbest(nlu) -> dict:
    """Accuracy on the dev transcripts for each (gate, best weight): runner-up readings vote only
    when the best reading's top probability is below the gate."""
    import numpy as np

    from voicebot.nlu.intent_head import decide
    from voicebot.nlu.runtime import BEST_WEIGHT, NBEST_GATE

    rows = [json.loads(line) for line in (ROOT / "intents/test/heldout_asr_render3.jsonl").read_text().splitlines()]
    spans, texts = [], []
    for r in rows:
        readings = [t for t in (r["text"], *r.get("alternatives", ())) if t.strip()]
        spans.append((len(texts), len(readings)))
        texts += readings
    probs = nlu.intent_probabilities(texts)
    results = {}
    for gate in (0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 1.01):
        for weight in (1.0, 2.0, 3.0):
            ok = []
            for r, (start, n) in zip(rows, spans):
                p = probs[start:start + n]
                if n > 1 and p[0].max() < gate:
                    w = np.r_[weight, np.ones(n - 1)]
                    p = (w @ p / w.sum())[None]
                ok.append(decide(p[0], nlu.labels, nlu.threshold)[0] == r["intent"])
            results[f"gate {gate} weight {weight}"] = round(float(np.mean(ok)), 3)
            if (gate, weight) == (NBEST_GATE, BEST_WEIGHT):  # the shipped setting, voice by voice
                for voice in sorted({r["voice"] for r in rows}):
                    hits = [hit for r, hit in zip(rows, ok) if r["voice"] == voice]
                    results[f"shipped gate, {voice}"] = round(float(np.mean(hits)), 3)
    return results


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
