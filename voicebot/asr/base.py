"""The `Recognizer` Protocol and the backend registry.

A backend module registers a factory under a name (`@register("whisper")`); callers ask
`get_recognizer("whisper")`. Models load once per process: the registry caches instances per
(name, options)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from voicebot.audio.types import CANONICAL_RATE, Audio
from voicebot.registry import Registry
from voicebot.events import Transcript


@dataclass(frozen=True)
class Hints:
    """What the prompt expects, so a backend can constrain or bias recognition.

    kind: "free" (open speech), "digits" (a digit string), "yesno", "choice" (one of `phrases`).
    phrases: domain words or allowed answers (vocabulary bias or a grammar).
    length: for digits, the expected count; a backend may try again when its answer is off."""

    kind: str = "free"
    phrases: tuple[str, ...] = ()
    length: int | None = None  # digits: how many the prompt asked for (8-digit ID, 4-digit PIN)


FREE = Hints()


@runtime_checkable
class Recognizer(Protocol):
    name: str

    def transcribe(self, audio: Audio, hints: Hints = FREE) -> Transcript:
        """Whole utterance → final text."""
        ...

    def partials(self, frames: Iterable[Audio], hints: Hints = FREE) -> Iterator[str]:
        """Streaming partial hypotheses while frames arrive (backends without streaming may yield
        nothing until the end)."""
        ...


DEFAULT_BACKEND = "whisper"
BACKENDS: Registry[Recognizer] = Registry("ASR backend", {
    "whisper": "voicebot.asr.whisper",
    "moonshine": "voicebot.asr.moonshine",
    "pocketsphinx": "voicebot.asr.sphinx",
    "vosk": "voicebot.asr.vosk",
}, DEFAULT_BACKEND)
register = BACKENDS.register
available_backends = BACKENDS.names


def get_recognizer(name: str = DEFAULT_BACKEND, **options: object) -> Recognizer:
    """The shared recogniser for `name` (loaded on first use)."""
    return BACKENDS.get(name, **options)


def asr_version(recognizer: Recognizer | None) -> str | None:
    """What a call record keeps of the recogniser that heard it (`asr_model`): its `version` when
    it has one (Whisper: directory and weights digest), else its backend's name; None without one
    (a call replayed from text)."""
    if recognizer is None:
        return None
    return getattr(recognizer, "version", None) or recognizer.name


def partials_at_end(recognizer: Recognizer, frames: Iterable[Audio], hints: Hints = FREE) -> Iterator[str]:
    """`partials` for backends that decode whole utterances: one hypothesis once all frames are in."""
    pcm = [f.canonical().samples for f in frames]
    if pcm:
        import numpy as np

        text = recognizer.transcribe(Audio(np.concatenate(pcm), CANONICAL_RATE), hints).text
        if text:
            yield text
