"""pyttsx3 (espeak-ng driver): the lightweight fallback voice that needs no model files."""

from __future__ import annotations

import atexit
import contextlib
import io
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from voicebot.audio.types import Audio
from voicebot.audio.wavio import read_wav
from voicebot.errors import AudioError, ModelError
from voicebot.tts.base import register, sentences

RENDER_ATTEMPTS = 3


class Pyttsx3Synthesizer:
    name = "pyttsx3"

    def __init__(self, voice: str | None = None, rate_wpm: int = 165) -> None:
        try:
            import pyttsx3

            self._engine = pyttsx3.init("espeak")
        except Exception as exc:  # pyttsx3 raises bare errors when libespeak-ng is missing
            raise ModelError(f"pyttsx3/espeak-ng unavailable ({exc}); install libespeak-ng1") from exc
        self._engine.setProperty("rate", rate_wpm)
        if voice:
            self._engine.setProperty("voice", voice)
        self.voice = voice or "espeak-default"
        self._lock = threading.Lock()  # the engine is one native object; one render at a time
        # Drop the engine before the interpreter tears its modules down: pyttsx3's __del__ then
        # finds them gone and prints "Exception ignored in DriverProxy.__del__" at every exit.
        atexit.register(self.__dict__.pop, "_engine", None)

    def synthesize(self, text: str) -> Audio:
        # pyttsx3 2.99's espeak driver writes the file from a callback and now and then writes it
        # before any audio arrived (an empty WAV); a second render is reliable.
        for _ in range(RENDER_ATTEMPTS):
            with self._lock, tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "tts.wav"
                with contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to …"
                    self._engine.save_to_file(text, str(out))
                    self._engine.runAndWait()
                try:
                    return read_wav(out).to_mono()
                except AudioError:
                    continue
        raise ModelError(f"pyttsx3/espeak-ng rendered no audio for {text[:40]!r}")

    def stream(self, text: str) -> Iterator[Audio]:
        for sentence in sentences(text):
            yield self.synthesize(sentence)


register("pyttsx3")(Pyttsx3Synthesizer)
