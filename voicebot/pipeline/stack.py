"""The models a process shares across all its calls: recogniser, NLU, synthesizer, prompt cache.
Loaded once (each registry caches its instances); a Session holds only per-call state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from voicebot.asr import Recognizer, get_recognizer
from voicebot.events import Understood
from voicebot.pipeline.prompts import PromptCache
from voicebot.vad import VadConfig


class Understander(Protocol):
    def understand(self, text: str, alternatives: tuple[str, ...] = ()) -> Understood: ...


@dataclass
class Stack:
    recognizer: Recognizer | None  # None: text-only calls (no ASR needed)
    nlu: Understander
    prompts: PromptCache | None  # None: no audio out (text replays)
    vad: VadConfig = field(default_factory=VadConfig)

    @classmethod
    def load(cls, *, asr: str | None = "whisper", tts: str | None = "piper", model: str | None = None,
             rate: int = 16000, vad: VadConfig | None = None) -> Stack:
        from voicebot.asr.base import BACKENDS
        from voicebot.registry import load_together
        from voicebot.tts.base import VOICES

        if asr:
            BACKENDS.prepare(asr)  # our modules imported on this thread; the models load side by side
        if tts:
            VOICES.prepare(tts)

        def nlu_ready():
            from voicebot.nlu import load_model
            from voicebot.nlu.entities import extract

            # spaCy's tokenizer + Matcher (Python-bound) build while MiniLM's session loads (C++).
            nlu, _ = load_together(lambda: load_model(model), lambda: extract("hello"))
            nlu.understand("hello")  # parts load on first use: not during a caller's first turn
            return nlu

        nlu, recognizer, prompts = load_together(
            nlu_ready, lambda: get_recognizer(asr) if asr else None, lambda: PromptCache(tts, rate) if tts else None)
        return cls(recognizer, nlu, prompts, vad or VadConfig())
