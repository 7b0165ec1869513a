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
        quiet_openmp()
        if asr:
            BACKENDS.prepare(asr)  # our modules imported on this thread; the models load side by side
        if tts:
            VOICES.prepare(tts)

        def nlu_ready():
            from voicebot.nlu import load_model
            from voicebot.nlu.entities import extract

            def minilm_and_heads():
                return load_model(model)

            def spacy_matcher():
                return extract("hello")

            # spaCy's tokenizer + Matcher (Python-bound) build while MiniLM's session loads (C++).
            nlu, _ = load_together(minilm_and_heads, spacy_matcher)
            nlu.understand("hello")  # parts load on first use: not during a caller's first turn
            return nlu

        def recognizer():
            return get_recognizer(asr) if asr else None

        def voice():
            return PromptCache(tts, rate) if tts else None

        nlu, asr_model, prompts = load_together(nlu_ready, recognizer, voice)
        # every call's decodes go through one batching decoder thread
        stack = cls(shared_recognizer(asr_model) if asr_model else None, nlu, prompts, vad or VadConfig())
        warm_audio_path(stack.barge_in)  # nor on a call's first frames
        return stack


OPENMP_WAIT_ENV = "OMP_WAIT_POLICY"


def quiet_openmp() -> None:
    """OpenMP threads (CTranslate2's libgomp, which reads this when ctranslate2 is first imported)
    sleep when a parallel region ends instead of spinning for the next one, unless
    $OMP_WAIT_POLICY says otherwise. Spinning burned the cores the other loaders and calls need:
    on this shared 2-core box the first decode after loading took 8-9 s and ~4 CPU s with 2 threads
    (0.5-0.6 s passive), a one-turn `voicebot replay` used 4.5-6.1 CPU s against 2.5-2.9; a
    steady-state decode took the same time either way (docs/coldstart.md)."""
    os.environ.setdefault(OPENMP_WAIT_ENV, "PASSIVE")


ECHO_ENV = "VOICEBOT_ECHO"


def echo_setting() -> str:
    """$VOICEBOT_ECHO, else "off": a replay or a SIP line whose gateway cancels its own echo needs
    none; the microphone transport turns on "webrtc" for its call (speaker echo)."""
    return os.environ.get(ECHO_ENV) or "off"


def check_echo(name: str) -> None:
    if name not in ECHO_CANCELLERS:
        raise VoicebotError(f"echo canceller {name!r} (Stack.echo / ${ECHO_ENV}): choose one of "
                            f"{', '.join(sorted(ECHO_CANCELLERS))}")
