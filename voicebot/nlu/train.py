"""Training: labelled phrases → a versioned model directory under models/.

Out-of-scope handling is chosen on a held-out split at train time, because which works better
depends on the data: an explicit `out_of_scope` class, that class plus a confidence threshold, or
a threshold alone. The winner and its threshold are recorded in the metadata."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from voicebot.errors import ConfigError
from voicebot.nlu import model_io
from voicebot.nlu.dataset import OUT_OF_SCOPE, Dataset, Example, load_intents_dir, load_rows, normalize
from voicebot.nlu.embedder import MAX_TOKENS, encode_cached
from voicebot.nlu.intent_head import IntentHead, clean_turn, decide, feature_settings
from voicebot.nlu.sentiment import HEAD_DIR

MIN_EXAMPLES = 5
ASR_AUGMENT = "asr_augment.jsonl"  # recogniser transcripts of the examples, beside the yml files
INTENTS_DIR = Path(__file__).resolve().parents[2] / "intents"
# Transcripts of these TTS families stay out of training, so one whole family measures callers
# whose kind of voice the model has never heard (docs/nlu.md, "Honest measurement").
HELD_OUT_FAMILIES = ("piper",)
THRESHOLDS = np.round(np.arange(0.10, 0.81, 0.025), 3)

Progress = Callable[[str, float], None]  # (stage description, fraction done 0..1)


def load_training_data(intents_dir: Path | None = None, data_file: Path | None = None) -> Dataset:
    if data_file is not None:
        return load_rows(Path(data_file))
    directory = Path(intents_dir or INTENTS_DIR)
    data = load_intents_dir(directory)
    augment = directory / ASR_AUGMENT
    if augment.is_file():
        known = set(data.intents)
        voices = [json.loads(line).get("voice", "") for line in augment.read_text().splitlines() if line.strip()]
        extra = [e for e, voice in zip(load_rows(augment).examples, voices, strict=True)
                 if e.intent in known and voice_family(voice) not in HELD_OUT_FAMILIES]
        data = Dataset(data.examples + extra, data.intents)
    return data


def voice_family(spec: str) -> str:
    """"espeak:en-gb/s140@10" → "espeak"."""
    return spec.split(":")[0].split("/")[0].split("@")[0]


def check_counts(data: Dataset) -> None:
    counts = Counter(e.intent for e in data.examples)
    if len(counts) < 2:
        raise ConfigError(f"{data.examples[0].where}: need at least two labels to train, found {sorted(counts)}")
    for label, n in sorted(counts.items()):
        if n < MIN_EXAMPLES:
            first = next(e for e in data.examples if e.intent == label)
            raise ConfigError(f"{first.where}: label {label!r} has {n} example(s); at least {MIN_EXAMPLES} are needed")


def data_hash(examples: list[Example]) -> str:
    digest = hashlib.sha256()
    for e in sorted((e.intent, e.text) for e in examples):
        digest.update(f"{e[0]}\t{e[1]}\n".encode())
    return digest.hexdigest()[:16]


def _score(pred: list[str], gold: list[str]) -> dict[str, float]:
    inscope = [(p, g) for p, g in zip(pred, gold) if g != OUT_OF_SCOPE]
    oos = [p for p, g in zip(pred, gold) if g == OUT_OF_SCOPE]
    acc_in = float(np.mean([p == g for p, g in inscope])) if inscope else 0.0
    recall = float(np.mean([p == OUT_OF_SCOPE for p in oos])) if oos else 1.0
    false_oos = float(np.mean([p == OUT_OF_SCOPE for p, _ in inscope])) if inscope else 0.0
    # in-scope accuracy and OOS recall weigh equally: neither may be bought with the other
    return {"in_scope_accuracy": acc_in, "oos_recall": recall, "false_oos_rate": false_oos, "score": (acc_in + recall) / 2}


def choose_oos_strategy(emb: np.ndarray, texts: list[str], labels: list[str], groups: list[str]) -> dict:
    """Compare OOS strategies on a group-held-out quarter (an example and its ASR transcripts stay together)."""
    from sklearn.model_selection import GroupShuffleSplit

    train_idx, val_idx = next(GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=0).split(texts, labels, groups))
    pick = lambda idx, seq: [seq[i] for i in idx]  # noqa: E731
    gold = pick(val_idx, labels)
    results = {}
    has_oos = OUT_OF_SCOPE in labels
    if has_oos:
        head = IntentHead.fit(emb[train_idx], pick(train_idx, texts), pick(train_idx, labels))
        probs = head.probabilities(emb[val_idx], pick(val_idx, texts))
        results["class"] = {"threshold": 0.0, **_score([decide(p, head.labels, 0.0)[0] for p in probs], gold)}
        results["class+threshold"] = _best_threshold(probs, head.labels, gold)
    inscope = [i for i in train_idx if labels[i] != OUT_OF_SCOPE]
    head = IntentHead.fit(emb[inscope], pick(inscope, texts), pick(inscope, labels))
    probs = head.probabilities(emb[val_idx], pick(val_idx, texts))
    results["threshold"] = _best_threshold(probs, head.labels, gold) if has_oos else {"threshold": 0.0, **_score([head.labels[int(p.argmax())] for p in probs], gold)}
    chosen = max(results, key=lambda k: (results[k]["score"], k == "class"))
    return {"strategy": chosen, "threshold": results[chosen]["threshold"], "compared": results, "validation_rows": len(val_idx)}


def _best_threshold(probs: np.ndarray, head_labels: list[str], gold: list[str]) -> dict:
    best = None
    for t in THRESHOLDS:
        s = _score([decide(p, head_labels, float(t))[0] for p in probs], gold)
        if s["false_oos_rate"] <= 0.05 and (best is None or s["score"] > best["score"]):
            best = {"threshold": float(t), **s}
    return best or {"threshold": 0.0, **_score([head_labels[int(p.argmax())] for p in probs], gold)}


def train(data: Dataset, out: Path | None = None, progress: Progress | None = None, source: str = "") -> Path:
    started = time.time()
    report = progress or (lambda stage, frac: None)
    check_counts(data)
    texts = [clean_turn(e.text) for e in data.examples]
    labels = [e.intent for e in data.examples]
    groups = [normalize(e.source or e.text) for e in data.examples]
    report("embedding examples", 0.0)
    emb = encode_cached(texts, progress=lambda done, total: report("embedding examples", 0.6 * done / total))
    report("choosing out-of-scope handling", 0.6)
    oos = choose_oos_strategy(emb, texts, labels, groups)
    report("fitting the final classifier", 0.85)
    keep = [i for i, lab in enumerate(labels) if oos["strategy"] != "threshold" or lab != OUT_OF_SCOPE]
    head = IntentHead.fit(emb[keep], [texts[i] for i in keep], [labels[i] for i in keep])
    created = datetime.now(timezone.utc)
    out = Path(out) if out else model_io.MODELS_DIR / f"nlu-{created:%Y%m%d-%H%M%S}"
    meta = {
        "created": created.isoformat(timespec="seconds"),
        "source": source,
        "data_hash": data_hash(data.examples),
        "n_examples": len(texts),
        "labels": head.labels,
        "routes": {n: i.route for n, i in data.intents.items() if i.route},
        "metrics": oos["compared"][oos["strategy"]],  # held-out quarter, before the final fit on all data
        "oos": oos,
        "threshold": oos["threshold"] if oos["strategy"] != "class" else 0.0,
        "features": {"embedder": "all-MiniLM-L6-v2", "max_tokens": MAX_TOKENS, **feature_settings()},
        "train_seconds": round(time.time() - started, 1),
    }

    def fill(tmp: Path) -> None:
        np.savez_compressed(tmp / "intent.npz", **head.arrays())
        for name in ("sentiment.json", "sentiment.npz"):
            if (HEAD_DIR / name).exists():
                shutil.copy(HEAD_DIR / name, tmp / name)
        meta["sentiment"] = json.loads((HEAD_DIR / "sentiment.json").read_text())
        meta["artefact_sha256"] = model_io.artefact_digest(tmp, meta)
        meta["version"] = model_io.model_version(meta["artefact_sha256"], meta["created"])
        model_io.save_metadata(tmp, meta)

    path = model_io.write_model_dir(out, fill)
    report("done", 1.0)
    return path
