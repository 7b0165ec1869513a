"""Word error rate with the text normalisation both sides need to be comparable: case,
punctuation, hyphens, spoken vs written numbers ("twenty five" = "25") and a few spellings
recognisers disagree on ("Mr." = "mister", "okay" = "ok")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from voicebot.asr.numbers import normalize_numbers

_SPELLINGS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "okay": "ok", "alright": "all right"}


def normalize_text(text: str) -> str:
    """Lower-case words with numbers as numerals, no punctuation: comparable transcripts."""
    text = re.sub(r"(?<=\d)-(?=\d)", "", text.lower())  # "3-14159" is one digit string
    text = re.sub(r"(?<=\w)-(?=\w)", " ", text)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    # punctuation goes first so "five, five" and "five five" read as the same digit string
    text = re.sub(r"[^\w\s'.$]|(?<!\d)\.|\.(?!\d)|'(?!\w)|(?<!\w)'", " ", text)
    text = normalize_numbers(text).replace("$", "")
    words = [_SPELLINGS.get(w, w) for w in text.split()]
    return " ".join(" ".join(words).split())


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words (substitutions + deletions + insertions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class WerScore:
    errors: int
    ref_words: int

    @property
    def wer(self) -> float:
        return self.errors / self.ref_words if self.ref_words else float(self.errors > 0)


def score(reference: str, hypothesis: str) -> WerScore:
    ref, hyp = normalize_text(reference).split(), normalize_text(hypothesis).split()
    return WerScore(edit_distance(ref, hyp), len(ref))


def wer(reference: str, hypothesis: str) -> float:
    """WER of one utterance after normalisation."""
    return score(reference, hypothesis).wer


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> float:
    """Total errors over total reference words for (reference, hypothesis) pairs."""
    scores = [score(r, h) for r, h in pairs]
    words = sum(s.ref_words for s in scores)
    return sum(s.errors for s in scores) / words if words else 0.0
