"""The intent classifier: softmax regression over
[MiniLM embedding | hashed character n-grams | hashed n-grams of the sound key].

Embeddings carry meaning across wordings; character n-grams keep working when the recogniser
mangles a word ("balance" → "balanse"/"family balance"); n-grams of the sound key
(`phonetic.sound_key`) match what sounds alike even when spelling and word boundaries differ
("rent actions" ~ "transactions"). The hashing vectorizers have no fitted state, so the whole
head is two arrays plus a few numbers: saved as npz/json, never pickled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from voicebot.intents import OUT_OF_SCOPE
from voicebot.nlu.dataset import normalize
from voicebot.nlu.hashing import hashed_counts
from voicebot.nlu.phonetic import sound_key

NGRAM_FEATURES = 2**14
NGRAM_RANGE = (2, 4)
EMBED_WEIGHT = 1.0
# Block weights and C were chosen by 5-fold cross-validation on the training ASR transcripts
# grouped by source phrase (never on the held-out sets): char n-grams help on ASR noise but must
# not outvote meaning; the sound-key block added a little (+0.003 CV, +0.005-0.01 on held-out
# transcripts), word n-grams nothing.
NGRAM_WEIGHT = 0.6
PHONETIC_FEATURES = 2**14
PHONETIC_RANGE = (2, 4)
PHONETIC_WEIGHT = 0.4
C = 4.0  # with ~8 ASR transcripts per phrase, 8 fitted their noise (CV: lower C, better transcripts)


def ngram_features(texts: list[str]) -> sp.csr_matrix:
    return hashed_counts([normalize(t) for t in texts], analyzer="char_wb", ngram_range=NGRAM_RANGE,
                         n_features=NGRAM_FEATURES)


def phonetic_features(texts: list[str]) -> sp.csr_matrix:
    # the sound key has no spaces: plain char n-grams run across word boundaries
    return hashed_counts([sound_key(t) for t in texts], analyzer="char", ngram_range=PHONETIC_RANGE,
                         n_features=PHONETIC_FEATURES, lowercase=False)


def clean_turn(text: str) -> str:
    """What is classified: a recogniser's final full stop is its own, not the caller's, and it
    moves the embedding; training and the live turn must agree on this."""
    text = text.strip()
    return text.rstrip(".").strip() or text


def design_matrix(embeddings: np.ndarray, texts: list[str]) -> sp.csr_matrix:
    return sp.hstack([
        sp.csr_matrix(embeddings * EMBED_WEIGHT),
        ngram_features(texts) * NGRAM_WEIGHT,
        phonetic_features(texts) * PHONETIC_WEIGHT,
    ]).tocsr()


def feature_settings() -> dict:
    """Recorded in the model metadata (the head's rows follow this layout)."""
    return {"ngram_range": list(NGRAM_RANGE), "ngram_features": NGRAM_FEATURES, "ngram_weight": NGRAM_WEIGHT,
            "phonetic_range": list(PHONETIC_RANGE), "phonetic_features": PHONETIC_FEATURES,
            "phonetic_weight": PHONETIC_WEIGHT, "C": C}


@dataclass
class IntentHead:
    labels: list[str]
    weights: np.ndarray  # (n_features, n_labels)
    bias: np.ndarray  # (n_labels,)

    @classmethod
    def fit(cls, embeddings: np.ndarray, texts: list[str], intents: list[str], c: float = C, sample_weight=None) -> "IntentHead":
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
        # Block by block, the same sum as design_matrix @ weights: stacking a sparse matrix per
        # turn cost ~0.7 ms, a third of the whole head.
        dim = embeddings.shape[1]
        w, split = self.weights, dim + NGRAM_FEATURES
        logits = (embeddings * EMBED_WEIGHT) @ w[:dim] + self.bias
        logits += (ngram_features(texts) @ w[dim:split]) * NGRAM_WEIGHT
        logits += (phonetic_features(texts) @ w[split:]) * PHONETIC_WEIGHT
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def arrays(self) -> dict[str, np.ndarray]:
        # float16 halves the committed model; the probabilities barely move
        return {"intent_weights": self.weights.astype(np.float16), "intent_bias": self.bias}

    @classmethod
    def from_arrays(cls, labels: list[str], data) -> "IntentHead":
        return cls(labels, data["intent_weights"].astype(np.float32), data["intent_bias"].astype(np.float32))


def decide(probs: np.ndarray, labels: list[str], threshold: float, oos: str = OUT_OF_SCOPE) -> tuple[str, float]:
    """Top intent, or out_of_scope when the best in-scope probability is below `threshold`."""
    top = int(probs.argmax())
    if labels[top] != oos and probs[top] < threshold:
        return oos, float(1.0 - probs[top])
    return labels[top], float(probs[top])
