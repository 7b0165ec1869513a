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
YESNO_INTENTS = {"affirm": "yes", "deny": "no"}
_LOCK = threading.Lock()
_LOADED: dict[Path, "Nlu"] = {}


class Nlu:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.meta = model_io.read_metadata(self.path)
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
        """`alternatives`: the recogniser's other readings of the same audio. Each reading votes
        with its intent probabilities: on noisy telephone audio the best reading often lost the
        request that a runner-up kept (held-out slt 0.87 → 0.89, espeak en-gb 0.75 → 0.79, docs/nlu.md)."""
        text = text.strip()
        if not text:
            return Understood(text, OUT_OF_SCOPE, 1.0, "neutral", 0.0)
        readings = [clean_turn(t) for t in (text, *alternatives) if t.strip()]
        embeddings = self.embedder.encode(readings)
        probs = self.head.probabilities(embeddings, readings).mean(axis=0)
        heard, embedding = readings[0], embeddings[:1]
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
