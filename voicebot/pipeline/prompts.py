"""Bot prompts as audio. Fixed prompts are rendered ahead of time and cached on disk by
text + voice + rate, so only dynamic text (a balance) is synthesized during a call, and that
sentence by sentence so the first audio can start early."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from voicebot.audio import Audio, read_wav, write_wav
from voicebot.cache import cache_dir
from voicebot.tts import get_synthesizer
from voicebot.tts.base import sentences


class PromptCache:
    def __init__(self, tts: str = "piper", rate: int = 16000, directory: Path | None = None) -> None:
        self.synth = get_synthesizer(tts)
        self.rate = rate
        self.dir = directory or cache_dir("prompts")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._memory: dict[str, Audio] = {}
        self.hits = self.misses = 0

    def _path(self, sentence: str) -> Path:
        key = f"{self.synth.name}|{self.synth.voice}|{self.rate}|{sentence}"
        return self.dir / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.wav"

    def sentence_audio(self, sentence: str) -> Audio:
        path = self._path(sentence)
        if path.name in self._memory:
            self.hits += 1
            return self._memory[path.name]
        if path.exists():
            self.hits += 1
            audio = read_wav(path)
        else:
            self.misses += 1
            audio = self.synth.synthesize(sentence).canonical(self.rate)
            tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.part.wav")  # workers render at once
            write_wav(tmp, audio)
            tmp.replace(path)
        self._memory[path.name] = audio
        return audio

    def stream(self, text: str) -> Iterator[Audio]:
        """Sentence by sentence: cached sentences come back at once, new ones as rendered."""
        for sentence in sentences(text):
            yield self.sentence_audio(sentence)

    def render(self, text: str) -> Audio:
        parts = [a.samples for a in self.stream(text)] or [np.zeros(0, np.int16)]
        return Audio(np.concatenate(parts), self.rate)

    def warm(self, texts: Iterable[str]) -> int:
        """Render fixed prompts ahead of the call; returns how many sentences were new."""
        before = self.misses
        for text in texts:
            for _ in self.stream(text):
                pass
        return self.misses - before


def fixed_prompts(flow: object) -> list[str]:
    """Every prompt of a flow that has no {placeholder}: what can be rendered before any call."""
    spec = getattr(flow, "spec", flow)
    texts = [t for state in spec.states.values() for t in (state.say, state.say_known, state.ask) if t]
    for block in (spec.messages, spec.authentication):
        texts += [v for v in block.model_dump().values() if isinstance(v, str)]
    return sorted({t for t in texts if "{" not in t})
