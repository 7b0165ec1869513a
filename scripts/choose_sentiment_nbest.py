"""Sentiment of a telephone turn from the recogniser's readings: the best reading alone (what a
call used) against readings that vote, on DEV audio only. A garbled best reading can sound angry
("… whether or not I want to be muted", -0.88) while the caller spoke calmly; the runner-up
readings of the same audio may not.

Dev sets, rendered through the noisy 8 kHz μ-law line in the dev voices (scripts/build_eval_audio.py
DEV_VOICES): intents/dev/sentiment_banking_dev.jsonl, intents/test/sentiment_banking.jsonl (both dev
per docs/nlu.md) and the non-neutral rows of intents/test/heldout.jsonl (dev). Each recording is heard
once as at the first intent prompt of a call (VAD, hints, n-best); every variant then scores the same
readings. The held-out sets are not read.

    python scripts/choose_sentiment_nbest.py [--voices piper,flite:slt] [--heard FILE.json] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from build_asr_transcripts import render  # noqa: E402
from build_eval_audio import DEV_VOICES  # noqa: E402

from voicebot.nlu.intent_head import clean_turn  # noqa: E402
from voicebot.nlu.sentiment import LABELS  # noqa: E402

DEV_SETS = ("intents/dev/sentiment_banking_dev.jsonl", "intents/test/sentiment_banking.jsonl",
            "intents/test/heldout.jsonl")


def dev_rows() -> list[dict]:
    rows = []
    for name in DEV_SETS:
        for line in (ROOT / name).read_text().splitlines():
            row = json.loads(line)
            if row.get("sentiment") and (name != DEV_SETS[2] or row["sentiment"] != "neutral"):
                rows.append({"text": row["text"], "sentiment": row["sentiment"], "set": name})
    return rows


def hear_all(rows: list[dict], voices: list[str]) -> list[dict]:
    """Each row in each voice, heard at the bank flow's first intent prompt: best reading + runner-ups."""
    from voicebot.events import Transcript
    from voicebot.flow import CallEngine, load_flow
    from voicebot.nlu.audio_eval import CALL_TIME
    from voicebot.pipeline import Session, Stack
    from voicebot.store import open_store
    from voicebot.transports.replay import replay_audio

    flow = load_flow(ROOT / "flows" / "bank.yml")
    stack = Stack.load(asr="whisper", tts=None)
    out = []
    for n, row in enumerate(rows):
        for voice in voices:
            engine = CallEngine(flow, open_store("sqlite://"), now=CALL_TIME)
            heard: list[Transcript] = []
            replay_audio(Session(engine, stack, listener=lambda e: heard.append(e) if isinstance(e, Transcript) else None),
                         [render(row["text"], voice)])
            first = heard[0] if heard else None
            out.append({**row, "voice": voice, "heard": first.text if first else "",
                        "alternatives": list(first.alternatives) if first else [],
                        "asr_confidence": first.confidence if first else None})
        print(f"\r{n + 1}/{len(rows)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return out


def probabilities(nlu, texts: list[str]) -> np.ndarray:
    """Sentiment probabilities (negative, neutral, positive) of each text, as the runtime scores one."""
    cleaned = [clean_turn(t) for t in texts]
    emb = nlu.embedder.encode(cleaned)
    return np.array([nlu.sentiment.probabilities(e, t) for e, t in zip(emb, cleaned)])


def vote(probs: np.ndarray, best_weight: float = 2.0) -> np.ndarray:
    """The readings' mean, the best counting best_weight times (as the intent n-best vote)."""
    weights = np.r_[best_weight, np.ones(len(probs) - 1)]
    return weights @ probs / weights.sum()


def sounds_negative(p: np.ndarray) -> bool:
    return int(np.argmax(p)) == 0


def halved(p: np.ndarray) -> np.ndarray:
    return np.array([p[0] / 2, 1 - (p[0] + p[2]) / 2, p[2] / 2])


# (probabilities of the readings, best first; the recogniser's confidence) -> one distribution
VARIANTS = {
    "best reading only (shipped)": lambda p, c: p[0],
    "readings vote when the best sounds negative": lambda p, c: vote(p) if sounds_negative(p[0]) else p[0],
    "readings always vote": lambda p, c: vote(p),
    "readings vote, best weighs 4": lambda p, c: vote(p, 4.0) if sounds_negative(p[0]) else p[0],
    "vote when negative and only if no runner-up is": lambda p, c: vote(p) if sounds_negative(p[0])
    and not any(sounds_negative(q) for q in p[1:]) else p[0],
    "vote when negative and ASR confidence < 0.5": lambda p, c: vote(p) if sounds_negative(p[0]) and c < 0.5 else p[0],
    "score halved when ASR confidence < 0.5": lambda p, c: halved(p[0]) if c < 0.5 else p[0],
}


def macro_f1(truth: list[str], pred: list[str]) -> float:
    f1s = []
    for label in LABELS:
        tp = sum(t == p == label for t, p in zip(truth, pred))
        fp = sum(p == label != t for t, p in zip(truth, pred))
        fn = sum(t == label != p for t, p in zip(truth, pred))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", default=",".join(DEV_VOICES))
    parser.add_argument("--heard", type=Path, help="reuse (or write) the readings heard, as JSON")
    parser.add_argument("--strong", type=float, default=-0.8, help="the flow's strong_negative (bank.yml)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.heard and args.heard.exists():
        heard = json.loads(args.heard.read_text())
    else:
        heard = hear_all(dev_rows(), args.voices.split(","))
        if args.heard:
            args.heard.write_text(json.dumps(heard))
    from voicebot.nlu import load_model

    nlu = load_model()
    truth = [h["sentiment"] for h in heard]
    variants: dict[str, list[np.ndarray]] = {name: [] for name in VARIANTS}
    for h in heard:
        readings = [h["heard"]] + [a for a in h["alternatives"] if a.strip()]
        probs = probabilities(nlu, readings) if h["heard"].strip() else np.array([[0.0, 1.0, 0.0]])
        for name, variant in VARIANTS.items():
            variants[name].append(variant(probs, h.get("asr_confidence") or 0.0))
    report = {"recordings": len(heard), "voices": sorted({h["voice"] for h in heard}),
              "negative_rows": truth.count("negative"), "strong_negative": args.strong, "variants": {}}
    for name, probs in variants.items():
        labels = [LABELS[int(np.argmax(p))] for p in probs]
        scores = [float(p[2] - p[0]) for p in probs]
        neg = [i for i, t in enumerate(truth) if t == "negative"]
        calm = [i for i, t in enumerate(truth) if t != "negative"]
        report["variants"][name] = {
            "macro_f1": round(macro_f1(truth, labels), 3),
            "negative_heard_negative": sum(labels[i] == "negative" for i in neg),
            "negative_escalated_at_once": sum(scores[i] <= args.strong for i in neg),
            "calm_heard_negative": sum(labels[i] == "negative" for i in calm),
            "calm_escalated_at_once": sum(scores[i] <= args.strong for i in calm)}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['recordings']} recordings ({', '.join(report['voices'])}), {report['negative_rows']} negative")
    for name, m in report["variants"].items():
        print(f"{name:52s} " + "  ".join(f"{k} {v}" for k, v in m.items()))


if __name__ == "__main__":
    main()
