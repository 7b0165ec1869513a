"""Text-driven helpers for tests and demos: build caller events without any model."""

from __future__ import annotations

from typing import Any

from voicebot.events import DtmfPressed, NoInput, Understood


def said(text: str, intent: str = "out_of_scope", confidence: float = 0.9,
         sentiment: str = "neutral", score: float = 0.0,
         alternatives: tuple[tuple[str, float], ...] = (), **entities: Any) -> Understood:
    """said("my balance please", "check_balance"); said("1 2 3 4", digits="1234")."""
    if sentiment == "neutral" and score <= -0.05:
        sentiment = "negative"
    return Understood(text=text, intent=intent, confidence=confidence, sentiment=sentiment,
                      sentiment_score=score, entities=entities, alternatives=alternatives)


def pressed(digits: str) -> DtmfPressed:
    return DtmfPressed(digits)


def silence(seconds: float = 6.0) -> NoInput:
    return NoInput(seconds)
