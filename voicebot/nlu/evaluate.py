"""Quality of a model on labelled rows: intent accuracy, macro-F1, out-of-scope recall, in-scope
false-rejection rate, sentiment macro-F1 (rows with "sentiment"), confusion matrix, worst errors."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score

from voicebot.nlu.dataset import OUT_OF_SCOPE, Example
from voicebot.nlu.runtime import Nlu


def evaluate(nlu: Nlu, examples: list[Example], n_worst: int = 10) -> dict:
    texts = [e.text for e in examples]
    gold = [e.intent for e in examples]
    results = nlu.classify_batch(texts)
    pred = [intent for intent, _, _ in results]
    inscope = [i for i, g in enumerate(gold) if g != OUT_OF_SCOPE]
    oos = [i for i, g in enumerate(gold) if g == OUT_OF_SCOPE]
    labels = sorted(set(gold) | set(pred))
    report = {
        "n": len(examples),
        "intent_accuracy": float(np.mean([p == g for p, g in zip(pred, gold)])),
        "intent_macro_f1": float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0)),
        "oos_recall": float(np.mean([pred[i] == OUT_OF_SCOPE for i in oos])) if oos else None,
        "in_scope_false_oos_rate": float(np.mean([pred[i] == OUT_OF_SCOPE for i in inscope])) if inscope else None,
        "unknown_labels": sorted(set(gold) - set(nlu.labels) - {OUT_OF_SCOPE}),
        "confusion": {"labels": labels, "matrix": confusion_matrix(gold, pred, labels=labels).tolist()},
    }
    with_sentiment = [i for i, e in enumerate(examples) if e.sentiment]
    if with_sentiment:
        emb = nlu.embedder.encode([texts[i] for i in with_sentiment])
        sent_pred = [nlu.sentiment.predict(v, texts[i])[0] for v, i in zip(emb, with_sentiment)]
        sent_gold = [examples[i].sentiment for i in with_sentiment]
        report["sentiment_n"] = len(with_sentiment)
        report["sentiment_macro_f1"] = float(f1_score(sent_gold, sent_pred, average="macro", zero_division=0))
    wrong = [i for i, (p, g) in enumerate(zip(pred, gold)) if p != g]
    wrong.sort(key=lambda i: -results[i][1])  # confidently wrong first: the ones to fix in the data
    report["worst"] = [
        {"text": texts[i], "expected": gold[i], "predicted": pred[i], "confidence": round(results[i][1], 3), "where": examples[i].where}
        for i in wrong[:n_worst]
    ]
    return report
