"""The `Synthesizer` Protocol and registry. A synthesizer turns text into Audio, sentence by
sentence so the first audio can start while the rest renders."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import numpy as np

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


_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
MIN_CLAUSE_WORDS = 3  # "Thank you," alone is no clause of its own: "Thank you, Alice," is


def clause_cuts(sentence: str) -> list[tuple[str, str]]:
    """Every way to cut `sentence` after a clause (at a comma, semicolon or colon) that leaves at
    least two words after it, first cut first. Rendered one after the other, the head plays while
    the rest renders (Piper pauses at the mark either way)."""
    cuts = ((sentence[: m.start()], sentence[m.end() :]) for m in _CLAUSE_END.finditer(sentence))
    return [(head, tail) for head, tail in cuts if len(tail.split()) >= 2]


def first_clause(sentence: str) -> tuple[str, str] | None:
    """`sentence` cut after its first clause of MIN_CLAUSE_WORDS words or more; None without one."""
    return next(((h, t) for h, t in clause_cuts(sentence) if len(h.split()) >= MIN_CLAUSE_WORDS), None)


# A synthesized sentence starts with ~50 ms and ends with 0.1-0.3 s of near silence (Piper). The
# lead delays every answer by that much; the tail keeps the line "busy" after the words end. Both
# are cut to a few ms of lead (no click on the first phoneme) and a tail that still leaves a
# natural pause between two sentences of a prompt.
KEEP_LEAD_MS, KEEP_TAIL_MS = 10, 150
QUIET_DB = 40.0  # 10 ms windows this far below the loudest one count as silence


def trim_silence(audio: Audio, lead_ms: int = KEEP_LEAD_MS, tail_ms: int = KEEP_TAIL_MS) -> Audio:
    """`audio` without its leading and trailing silence beyond `lead_ms` / `tail_ms`."""
    x = audio.samples
    hop = max(1, audio.rate // 100)
    if x.ndim != 1 or x.shape[0] < hop:
        return audio
    frames = x[: x.shape[0] // hop * hop].astype(np.float64).reshape(-1, hop)
    energy = np.mean(frames**2, axis=1)
    loud = np.flatnonzero(energy > energy.max() * 10 ** (-QUIET_DB / 10))
    if not loud.size or energy.max() == 0:
        return audio
    start = max(0, loud[0] * hop - audio.rate * lead_ms // 1000)
    end = min(x.shape[0], (loud[-1] + 1) * hop + audio.rate * tail_ms // 1000)
    return Audio(np.ascontiguousarray(x[start:end]), audio.rate) if (start, end) != (0, x.shape[0]) else audio
