"""Quality of a model on labelled rows: intent accuracy, macro-F1, out-of-scope recall, in-scope
false-rejection rate, sentiment macro-F1 (rows with "sentiment"), confusion matrix, worst errors.

Rows may carry an intent, a sentiment, or both; each metric is computed over the rows that carry
its label. `score` turns predictions into the report, so typed text (`evaluate`) and recordings
heard through the live pipeline (`voicebot.nlu.audio_eval`) are measured alike."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score

from voicebot.nlu.dataset import OUT_OF_SCOPE, Example
from voicebot.nlu.runtime import Nlu


@dataclass(frozen=True)
class Prediction:
    intent: str
    confidence: float
    sentiment: str


def evaluate(nlu: Nlu, examples: list[Example], n_worst: int = 10) -> dict:
    texts = [e.text for e in examples]
    results = nlu.classify_batch(texts)
    emb = nlu.embedder.encode(texts) if any(e.sentiment for e in examples) else [None] * len(texts)
    preds = [Prediction(intent, confidence, nlu.sentiment.predict(v, t)[0] if e.sentiment else "")
             for (intent, confidence, _), v, t, e in zip(results, emb, texts, examples)]
    report = score(examples, preds, n_worst)
    report["unknown_labels"] = sorted({e.intent for e in examples if e.intent} - set(nlu.labels) - {OUT_OF_SCOPE})
    report["model_version"] = nlu.version
    return report


def score(examples: list[Example], preds: list[Prediction], n_worst: int = 10) -> dict:
    """The report for `examples` given what was predicted for each (same order)."""
    report: dict = {"n": len(examples)}
    with_intent = [i for i, e in enumerate(examples) if e.intent]
    gold = [examples[i].intent for i in with_intent]
    pred = [preds[i].intent for i in with_intent]
    if with_intent:
        inscope = [k for k, g in enumerate(gold) if g != OUT_OF_SCOPE]
        oos = [k for k, g in enumerate(gold) if g == OUT_OF_SCOPE]
        labels = sorted(set(gold) | set(pred))
        report |= {
            "intent_n": len(with_intent),
            "intent_accuracy": float(np.mean([p == g for p, g in zip(pred, gold)])),
            "intent_macro_f1": float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0)),
            "oos_recall": float(np.mean([pred[k] == OUT_OF_SCOPE for k in oos])) if oos else None,
            "in_scope_false_oos_rate": float(np.mean([pred[k] == OUT_OF_SCOPE for k in inscope])) if inscope else None,
            "confusion": {"labels": labels, "matrix": confusion_matrix(gold, pred, labels=labels).tolist()},
        }
    else:
        report |= {"intent_n": 0, "intent_accuracy": None, "intent_macro_f1": None, "oos_recall": None,
                   "in_scope_false_oos_rate": None, "confusion": {"labels": [], "matrix": []}}
    with_sentiment = [i for i, e in enumerate(examples) if e.sentiment]
    if with_sentiment:
        report["sentiment_n"] = len(with_sentiment)
        report["sentiment_macro_f1"] = float(f1_score([examples[i].sentiment for i in with_sentiment],
                                                      [preds[i].sentiment for i in with_sentiment],
                                                      average="macro", zero_division=0))
    wrong = [i for i in with_intent if preds[i].intent != examples[i].intent]
    wrong.sort(key=lambda i: -preds[i].confidence)  # confidently wrong first: the ones to fix in the data
    report["worst"] = [
        {"text": examples[i].text, "expected": examples[i].intent, "predicted": preds[i].intent,
         "confidence": round(preds[i].confidence, 3), "where": examples[i].where}
        for i in wrong[:n_worst]
    ]
    return report
