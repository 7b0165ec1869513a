"""The models a process shares across all its calls: recogniser, NLU, synthesizer, prompt cache.
Loaded once (each registry caches its instances); a Session holds only per-call state."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol

from voicebot.asr import Recognizer, get_recognizer
from voicebot.audio.echo import BACKENDS as ECHO_CANCELLERS
from voicebot.errors import VoicebotError
from voicebot.events import Understood
from voicebot.pipeline.bargein import barge_in_setting, check_barge_in, warm_audio_path
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
    # Per-call audio pieces, by name: each Session builds its own (they hold that call's state).
    barge_in: str = field(default_factory=barge_in_setting)  # pipeline/bargein.py: silero | energy
    echo: str = field(default_factory=lambda: echo_setting())  # audio/echo.py: off | webrtc | speex

    def __post_init__(self) -> None:
        check_barge_in(self.barge_in)
        check_echo(self.echo)

    @classmethod
    def load(cls, *, asr: str | None = "whisper", tts: str | None = "piper", model: str | None = None,
             rate: int = 16000, vad: VadConfig | None = None) -> Stack:
        from voicebot.registry import loading_phase

        with loading_phase():  # no cyclic GC passes over the models' objects as they load
            return cls._load(asr, tts, model, rate, vad)

    @classmethod
    def _load(cls, asr: str | None, tts: str | None, model: str | None, rate: int, vad: VadConfig | None) -> Stack:
        from voicebot.asr.base import BACKENDS
        from voicebot.pipeline.batching import shared_recognizer
        from voicebot.pipeline.workers import tune_malloc
        from voicebot.registry import load_together
        from voicebot.tts.base import VOICES

        tune_malloc()  # before the models' and the calls' threads allocate (per-call memory)
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
        # every call's decodes go through one batching decoder thread
        stack = cls(shared_recognizer(recognizer) if recognizer else None, nlu, prompts, vad or VadConfig())
        warm_audio_path(stack.barge_in)  # nor on a call's first frames
        return stack


ECHO_ENV = "VOICEBOT_ECHO"


def echo_setting() -> str:
    """$VOICEBOT_ECHO, else "off": a replay or a SIP line whose gateway cancels its own echo needs
    none; the microphone transport turns on "webrtc" for its call (speaker echo)."""
    return os.environ.get(ECHO_ENV) or "off"


def check_echo(name: str) -> None:
    if name not in ECHO_CANCELLERS:
        raise VoicebotError(f"echo canceller {name!r} (Stack.echo / ${ECHO_ENV}): choose one of "
                            f"{', '.join(sorted(ECHO_CANCELLERS))}")
