"""The `Synthesizer` Protocol and registry. A synthesizer turns text into Audio, sentence by
sentence so the first audio can start while the rest renders."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from voicebot.audio.types import Audio
from voicebot.registry import Registry


@runtime_checkable
class Synthesizer(Protocol):
    name: str
    voice: str

    def synthesize(self, text: str) -> Audio:
        """All of `text` as one Audio, at the synthesizer's native rate."""
        ...

    def stream(self, text: str) -> Iterator[Audio]:
        """One Audio per sentence, as soon as each is rendered."""
        ...


DEFAULT_TTS = "piper"
VOICES: Registry[Synthesizer] = Registry("TTS backend", {
    "piper": "voicebot.tts.piper", "pyttsx3": "voicebot.tts.espeak",
}, DEFAULT_TTS)
register = VOICES.register
available_voices = VOICES.names


def get_synthesizer(name: str = DEFAULT_TTS, **options: object) -> Synthesizer:
    return VOICES.get(name, **options)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in _SENTENCE_END.split(text)) if s]
