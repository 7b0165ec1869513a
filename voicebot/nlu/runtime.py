"""`Nlu`: a loaded model that turns one caller turn into `Understood` (intent, entities, sentiment).

One instance per model directory per process (`load_model` caches it); sessions share it."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from voicebot.errors import ModelError
from voicebot.events import Understood
from voicebot.nlu import model_io
from voicebot.nlu.dataset import OUT_OF_SCOPE
from voicebot.nlu.embedder import get_embedder
from voicebot.nlu.entities import extract
from voicebot.nlu.intent_head import IntentHead, clean_turn, decide
from voicebot.nlu.sentiment import SentimentModel

N_ALTERNATIVES = 3
# The recogniser's runner-up readings vote only when the best reading alone is unsure (its top
# probability below NBEST_GATE), and the best reading counts BEST_WEIGHT times: a sentence heard
# right gets the intent it gets typed whenever that one is confident, and a confident best reading
# is never overturned. Both chosen on the development transcripts (intents/test/heldout_asr_render3,
# `scripts/bench_nlu.py --choose-nbest`); all four dev voices 0.850 plain mean vs 0.853 gated.
NBEST_GATE = 0.6
BEST_WEIGHT = 2.0
YESNO_INTENTS = {"affirm": "yes", "deny": "no"}
_LOCK = threading.Lock()
_LOADED: dict[Path, "Nlu"] = {}


class Nlu:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.meta = model_io.read_metadata(self.path)
        self.version = model_io.version_of(self.path, self.meta)  # in every call record it classifies
        self.labels: list[str] = list(self.meta["labels"])
        self.threshold = float(self.meta.get("threshold", 0.0))
        self.head = IntentHead.from_arrays(self.labels, model_io.load_arrays(self.path, "intent.npz"))
        if self.head.weights.shape[1] != len(self.labels):
            raise ModelError(f"{self.path}/intent.npz: {self.head.weights.shape[1]} outputs for {len(self.labels)} labels")
        self.sentiment = SentimentModel.load(self.path)
        self.embedder = get_embedder()

    def intent_probabilities(self, texts: list[str]) -> np.ndarray:
        texts = [clean_turn(t) for t in texts]  # as in training and `understand`
        return self.head.probabilities(self.embedder.encode(texts), texts)

    def understand(self, text: str, alternatives: Sequence[str] = ()) -> Understood:
        """`alternatives`: the recogniser's other readings of the same audio. When the best reading
        is unsure they vote with their intent probabilities: on noisy telephone audio the best
        reading often lost the request that a runner-up kept (docs/nlu.md, "N-best voting")."""
        text = text.strip()
        if not text:
            return Understood(text, OUT_OF_SCOPE, 1.0, "neutral", 0.0)
        heard = clean_turn(text)
        embedding = self.embedder.encode([heard])
        best = self.head.probabilities(embedding, [heard])[0]
        others = [clean_turn(t) for t in alternatives if t.strip()]
        probs = best
        if others and best.max() < NBEST_GATE:  # only then are the other readings worth encoding
            probs = combine_readings(np.vstack([best, self.head.probabilities(self.embedder.encode(others), others)]))
        intent, confidence = decide(probs, self.labels, self.threshold)
        order = np.argsort(-probs)[:N_ALTERNATIVES]
        entities = extract(text)
        if intent in YESNO_INTENTS:
            entities.setdefault("yesno", YESNO_INTENTS[intent])
        sentiment, score = self.sentiment.predict(embedding[0], heard)
        return Understood(
            text=text,
            intent=intent,
            confidence=round(confidence, 4),
            sentiment=sentiment,
            sentiment_score=round(score, 4),
            entities=entities,
            alternatives=tuple((self.labels[i], round(float(probs[i]), 4)) for i in order),
        )

    def classify_batch(self, texts: list[str]) -> list[tuple[str, float, np.ndarray]]:
        """(intent, confidence, probabilities) per text, batched: for evaluation."""
        probs = self.intent_probabilities(texts) if texts else np.zeros((0, len(self.labels)))
        return [(*decide(p, self.labels, self.threshold), p) for p in probs]


def combine_readings(probs: np.ndarray) -> np.ndarray:
    """Intent probabilities of n readings (best first, shape (n, labels)) → one distribution."""
    if len(probs) == 1 or probs[0].max() >= NBEST_GATE:
        return probs[0]
    weights = np.r_[BEST_WEIGHT, np.ones(len(probs) - 1)]
    return weights @ probs / weights.sum()


def load_model(path: str | Path | None = None) -> Nlu:
    """The shared `Nlu` for `path` (default: the newest model under models/; if there is none,
    one is trained from intents/ first, with a progress message)."""
    with _LOCK:
        if path is None:
            path = model_io.newest_model()
            if path is None:
                from voicebot.nlu.train import load_training_data, train

                print("voicebot: no NLU model under models/; training one from intents/ (about a minute)…", file=sys.stderr)
                path = train(load_training_data(), source="intents/ (automatic first run)")
        resolved = Path(path).resolve()
        if resolved not in _LOADED:
            _LOADED[resolved] = Nlu(resolved)
        return _LOADED[resolved]
