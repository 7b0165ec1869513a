"""The keyword baseline the trained NLU is measured against: each intent's words from its
examples in intents/*.yml, weighted by how specific they are to it (tf-idf); a turn goes to the
intent whose words it shares most, or out_of_scope when it shares none. What an IVR without a
trained model would do."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from pathlib import Path

from voicebot.intents import OUT_OF_SCOPE

STOPWORDS = set("""a an the i i'm im me my we our you your to of in on for and or is are was be it this that
can could would like want need please just do does did have has with about at from some so how what
is there any hi hello hey um uh yeah oh""".split())
WORD = re.compile(r"[a-z']+")


def words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


class KeywordClassifier:
    name = "keywords"

    def __init__(self, examples: list[tuple[str, str]]) -> None:
        counts: dict[str, Counter] = defaultdict(Counter)
        for text, intent in examples:
            if intent != OUT_OF_SCOPE:
                counts[intent].update(words(text))
        n = len(counts)
        df = Counter(w for c in counts.values() for w in c)
        self.weights = {intent: {w: (1 + math.log(k)) * math.log(1 + n / df[w]) for w, k in c.items()}
                        for intent, c in counts.items()}

    @classmethod
    def from_intents(cls, directory: Path | None = None) -> KeywordClassifier:
        from voicebot.nlu.dataset import load_intents_dir
        from voicebot.nlu.train import INTENTS_DIR

        data = load_intents_dir(Path(directory or INTENTS_DIR))
        return cls([(e.text, e.intent) for e in data.examples])

    def classify(self, text: str) -> str:
        said = words(text)
        scores = {intent: sum(w.get(x, 0.0) for x in said) for intent, w in self.weights.items()}
        best = max(scores, key=scores.get, default=None)
        return best if best and scores[best] > 0 else OUT_OF_SCOPE
