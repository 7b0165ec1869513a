"""`Session`: one call. A transport pushes caller frames / DTMF / hang-up in and plays what
`take_audio()` returns; everything that happens is emitted as a typed event.

Time is counted in samples of the caller stream, never read from the wall clock, so a replayed
call behaves exactly like a live one, only faster."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.asr.base import Hints
from voicebot.asr.domain import prompt_hints
from voicebot.audio import Audio, write_wav
from voicebot.events import DtmfPressed, NoInput, Prompt, SpeechEnded, Spoken, Transcript, Understood
from voicebot.pipeline.recording import CallRecording
from voicebot.pipeline.stack import Stack
from voicebot.vad import Endpointer

log = logging.getLogger(__name__)

Listener = Callable[[Any], None]
DEFAULT_NO_INPUT_S = 6.0
WORDS_PER_SECOND = 2.5  # speaking rate for turns that arrive as text (AHT of text replays)

# What the flow expects → how the recogniser should listen.


class Session:
    def __init__(self, engine: Any, stack: Stack, *, rate: int = 16000, listener: Listener | None = None,
                 voicemail_dir: Path = Path("var/voicemail")) -> None:
        self.engine, self.stack, self.rate = engine, stack, rate
        self.events: list[Any] = []
        self.recording = CallRecording(rate)
        self._listeners = [listener] if listener else []
        self._endpointer = Endpointer(stack.vad, rate)
        self._outbox: list[Audio] = []
        self._silent_s = 0.0
        self._no_input_s = DEFAULT_NO_INPUT_S
        self.turns_heard = 0  # utterances the VAD closed (replay uses it to spot silent turns)
        self.voicemail_dir = voicemail_dir
        self._recording_voicemail = False  # the next utterance is a message to keep as audio

    # ---- what a transport calls -------------------------------------------------------------
    @property
    def done(self) -> bool:
        return bool(self.engine.done)

    def start(self) -> None:
        self._act(self.engine.start())

    def push(self, frame: Audio) -> None:
        """One caller frame (any rate; 10/20/30 ms at the session rate is cheapest)."""
        if self.done:
            return
        frame = frame.canonical(self.rate)
        self.recording.caller(frame)
        self._advance(frame.duration)
        for event in self._endpointer.push(frame):
            self._emit(event)
            if isinstance(event, SpeechEnded):
                self.turns_heard += 1
                self._caller_audio(event.audio)
        if self._endpointer.in_speech:
            self._silent_s = 0.0
        else:
            self._silent_s += frame.duration
            if self._silent_s >= self._no_input_s and not self.done:
                self.no_input()

    def dtmf(self, digits: str) -> None:
        self._input(DtmfPressed(digits))

    def caller_text(self, text: str, spoken: bool = False, alternatives: tuple[str, ...] = ()) -> None:
        """A caller turn as text (typed, or what the recogniser heard, with its n-best readings)."""
        if not spoken:  # typed turns take the time they would take to say
            self._advance(len(text.split()) / WORDS_PER_SECOND)
        self._input(self._understand(text, alternatives))

    def _understand(self, text: str, alternatives: tuple[str, ...] = ()) -> Understood:
        if not text.strip():  # speech the recogniser made nothing of is a no-match
            return Understood(text="", intent="out_of_scope", confidence=0.0,
                              sentiment="neutral", sentiment_score=0.0)
        return self.stack.nlu.understand(text, alternatives)

    def no_input(self) -> None:
        """The caller stayed silent for the whole no-input timeout."""
        waited = max(self._silent_s, self._no_input_s)
        self._advance(waited - self._silent_s)
        self._input(NoInput(waited))

    def hangup(self) -> None:
        """The caller hung up or their audio ran out."""
        for event in self._endpointer.flush():
            self._emit(event)
            self._caller_audio(event.audio)
        if not self.done:
            self._act(self.engine.hangup() or [])

    def take_audio(self) -> list[Audio]:
        """Bot audio queued since the last call, for the transport to play."""
        out, self._outbox = self._outbox, []
        return out

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # ---- the stages -------------------------------------------------------------------------
    def _caller_audio(self, audio: Audio) -> None:
        if self.done:
            return
        if self.stack.recognizer is None:
            raise RuntimeError("this session has no recogniser; use caller_text()")
        transcript: Transcript = self.stack.recognizer.transcribe(audio, self._hints())
        self._emit(transcript)
        if self._recording_voicemail:
            self._recording_voicemail = False
            return self._voicemail(audio, transcript.text)
        self.caller_text(transcript.text, spoken=True, alternatives=transcript.alternatives)

    def _voicemail(self, audio: Audio, text: str) -> None:
        """The caller's message: kept as a WAV beside its transcription, for the callback task."""
        call_id = getattr(getattr(self.engine, "record", None), "call_id", "call")
        path = write_wav(self.voicemail_dir / f"{call_id}-{self.turns_heard}.wav", audio)
        understood = self._understand(text)
        self._input(replace(understood, text=text, entities={"recording": str(path)}))

    def _hints(self) -> Hints:
        expect = getattr(self.engine, "expecting", None)
        return prompt_hints(getattr(expect, "kind", "free"), getattr(expect, "length", None),
                            tuple(getattr(expect, "choices", ()) or ()))

    def _input(self, event: Any) -> None:
        if self.done:
            return
        self._emit(event)
        self._act(self.engine.handle(event))

    def _act(self, actions: list[Any]) -> None:
        for action in actions:
            self._emit(action)
            text = getattr(action, "text", None)
            if text:
                self._say(text)
            if type(action).__name__ == "RecordVoicemail":
                self._recording_voicemail = True
            timeout = getattr(action, "no_input_timeout", None)
            if timeout:
                self._no_input_s = float(timeout)
        self._silent_s = 0.0  # the no-input clock starts when the bot stops talking

    def _say(self, text: str) -> None:
        self._emit(Prompt(text, getattr(self.engine, "state", "")))
        if self.stack.prompts is None:
            self._advance(len(text.split()) / WORDS_PER_SECOND)
            return
        started = time.perf_counter()
        parts = []
        for sentence in self.stack.prompts.stream(text):  # queued as each sentence is ready
            self.recording.bot(sentence)
            self._advance(sentence.duration)
            self._outbox.append(sentence)
            parts.append(sentence.samples)
        audio = Audio(np.concatenate(parts) if parts else np.zeros(0, np.int16), self.stack.prompts.rate)
        log.debug("rendered %.1fs of prompt in %.2fs", audio.duration, time.perf_counter() - started)
        self._emit(Spoken(text, audio))

    def _advance(self, seconds: float) -> None:
        """Call time moves with the audio (caller frames, bot prompts), not the wall clock."""
        self.engine.advance(seconds)

    def _emit(self, event: Any) -> None:
        self.events.append(event)
        for listener in self._listeners:
            listener(event)
