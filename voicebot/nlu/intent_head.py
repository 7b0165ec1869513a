"""The intent classifier: softmax regression over [MiniLM embedding | hashed character n-grams].

Embeddings carry meaning across wordings; character n-grams keep working when the recogniser
mangles a word ("balance" → "balanse"/"family balance"). The hashing vectorizer has no fitted
state, so the whole head is two arrays plus a few numbers: saved as npz/json, never pickled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from voicebot.nlu.dataset import normalize

NGRAM_FEATURES = 2**14
NGRAM_RANGE = (2, 4)
EMBED_WEIGHT = 1.0
NGRAM_WEIGHT = 0.6  # char n-grams help on ASR noise but must not outvote meaning
_VECTORIZER = None


def ngram_features(texts: list[str]) -> sp.csr_matrix:
    global _VECTORIZER
    if _VECTORIZER is None:
        from sklearn.feature_extraction.text import HashingVectorizer

        _VECTORIZER = HashingVectorizer(
            analyzer="char_wb", ngram_range=NGRAM_RANGE, n_features=NGRAM_FEATURES, alternate_sign=False, norm="l2"
        )
    return _VECTORIZER.transform([normalize(t) for t in texts])


def design_matrix(embeddings: np.ndarray, texts: list[str]) -> sp.csr_matrix:
    return sp.hstack([sp.csr_matrix(embeddings * EMBED_WEIGHT), ngram_features(texts) * NGRAM_WEIGHT]).tocsr()


@dataclass
class IntentHead:
    labels: list[str]
    weights: np.ndarray  # (n_features, n_labels)
    bias: np.ndarray  # (n_labels,)

    @classmethod
    def fit(cls, embeddings: np.ndarray, texts: list[str], intents: list[str], c: float = 8.0, sample_weight=None) -> "IntentHead":
        from sklearn.linear_model import LogisticRegression

        labels = sorted(set(intents))
        y = np.array([labels.index(i) for i in intents])
        clf = LogisticRegression(C=c, max_iter=3000)
        clf.fit(design_matrix(embeddings, texts), y, sample_weight=sample_weight)
        weights, bias = clf.coef_.T, clf.intercept_
        if len(labels) == 2:  # sklearn's binary form → two-column softmax
            weights, bias = np.hstack([-weights / 2, weights / 2]), np.array([-bias[0] / 2, bias[0] / 2])
        return cls(labels, weights.astype(np.float32), bias.astype(np.float32))

    def probabilities(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        logits = design_matrix(embeddings, texts) @ self.weights + self.bias
        logits = np.asarray(logits)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def arrays(self) -> dict[str, np.ndarray]:
        # float16 halves the committed model; the probabilities barely move
        return {"intent_weights": self.weights.astype(np.float16), "intent_bias": self.bias}

    @classmethod
    def from_arrays(cls, labels: list[str], data) -> "IntentHead":
        return cls(labels, data["intent_weights"].astype(np.float32), data["intent_bias"].astype(np.float32))


def decide(probs: np.ndarray, labels: list[str], threshold: float, oos: str = "out_of_scope") -> tuple[str, float]:
    """Top intent, or out_of_scope when the best in-scope probability is below `threshold`."""
    top = int(probs.argmax())
    if labels[top] != oos and probs[top] < threshold:
        return oos, float(1.0 - probs[top])
    return labels[top], float(probs[top])
