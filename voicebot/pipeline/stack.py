"""The models a process shares across all its calls: recogniser, NLU, synthesizer, prompt cache.
Loaded once (each registry caches its instances); a Session holds only per-call state."""

from __future__ import annotations

from dataclasses import dataclass, field

from voicebot.asr import Recognizer, get_recognizer
from voicebot.pipeline.prompts import PromptCache
from voicebot.vad import VadConfig


@dataclass
class Stack:
    recognizer: Recognizer | None  # None: text-only calls (no ASR needed)
    nlu: object  # voicebot.nlu.Nlu: understand(text) -> Understood
    prompts: PromptCache | None  # None: no audio out (text replays)
    vad: VadConfig = field(default_factory=VadConfig)

    @classmethod
    def load(cls, *, asr: str | None = "whisper", tts: str | None = "piper", model: str | None = None,
             rate: int = 16000, vad: VadConfig | None = None) -> Stack:
        from voicebot.nlu import load_model

        recognizer = get_recognizer(asr) if asr else None
        prompts = PromptCache(tts, rate) if tts else None
        return cls(recognizer, load_model(model), prompts, vad or VadConfig())
