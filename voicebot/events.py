"""The typed events a call is made of (cf. Home Assistant's assist_pipeline: stt-start,
intent-end, tts-end…). Small frozen dataclasses; stages emit them, the session, store and web
consume them. Nothing here imports a backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voicebot.audio.types import Audio


@dataclass(frozen=True)
class SpeechStarted:
    """VAD opened an utterance at `start` seconds into the stream."""

    start: float


@dataclass(frozen=True)
class SpeechEnded:
    """VAD closed an utterance: the caller's audio from `start` to `end` seconds."""

    start: float
    end: float
    audio: Audio = field(repr=False)


@dataclass(frozen=True)
class DtmfPressed:
    digits: str


@dataclass(frozen=True)
class NoInput:
    """The caller said nothing before the prompt's timeout."""

    waited: float


@dataclass(frozen=True)
class Transcript:
    """stt-end: what the recogniser heard."""

    text: str
    backend: str
    audio_seconds: float
    processing_seconds: float
    confidence: float | None = None
    alternatives: tuple[str, ...] = ()  # the recogniser's next-best readings, best first (n-best)

    @property
    def rtf(self) -> float:
        return self.processing_seconds / self.audio_seconds if self.audio_seconds else 0.0


@dataclass(frozen=True)
class Understood:
    """intent-end: what the NLU made of one caller turn."""

    text: str
    intent: str
    confidence: float
    sentiment: str  # negative | neutral | positive
    sentiment_score: float
    entities: dict[str, Any] = field(default_factory=dict)
    alternatives: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Prompt:
    """tts-start: the bot says `text`."""

    text: str
    state: str = ""


@dataclass(frozen=True)
class Spoken:
    """tts-end: the prompt rendered to audio."""

    text: str
    audio: Audio = field(repr=False)
    cached: bool = False
