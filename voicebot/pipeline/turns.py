"""The worker side of a Session: one caller turn through ASR → NLU → flow engine → TTS, and the
engine's actions performed (a closed union, handled with `match`). Runs on the call's Strand (one
job at a time, in order) on the shared pool, never on the audio path."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from voicebot.asr.base import Hints
from voicebot.asr.domain import prompt_hints
from voicebot.audio import Audio, write_wav
from voicebot.events import Prompt, SpeechEnded, Spoken, Transcript, Understood
from voicebot.flow.actions import Action, Ask, Expect, Hangup, RecordVoicemail, Say, Transfer
from voicebot.flow.speech import digits_in
from voicebot.pipeline.backchannel import not_a_turn
from voicebot.pipeline.events import StageFailed, TurnTiming
from voicebot.pipeline.playout import Playback
from voicebot.pipeline.seams import EndOfTurn, EngineEvent
from voicebot.pipeline.speculation import Decode, Guess
from voicebot.intents import OUT_OF_SCOPE

if TYPE_CHECKING:
    from voicebot.pipeline.session import Session

log = logging.getLogger(__name__)

WORDS_PER_SECOND = 2.5  # speaking rate of turns and prompts that exist only as text
CUT_SHORT = "Sorry to stop you there."  # said before answering a caller who talked past the limit
COMPLETE_CONFIDENCE = 0.85  # a request this clear at a pause ends the turn without the hang-over


@dataclass(frozen=True)
class TurnEnd:
    """How the audio path ended a caller turn: `endpoint_ms` of pause (call time) from the clock's
    restart to the decision, by what (speculation.py: early/standard decode, hang-over, cut), and
    when (time.perf_counter, for the latency breakdown only)."""

    endpoint_ms: int
    by: str
    at: float


def hints_for(expect: Expect) -> Hints:
    """How the recogniser listens at this prompt (the same rule as `voicebot transcribe --expect`)."""
    return prompt_hints(expect.kind, expect.length, expect.choices)


class TurnRunner:
    def __init__(self, session: Session, end_of_turn: EndOfTurn | None = None) -> None:
        self.s = session
        self.eot = end_of_turn
        self._engine_at = 0.0  # call time the engine has been told about

    # ---- jobs -------------------------------------------------------------------------------
    def caller_turn(self, event: SpeechEnded, barged: bool, kept: Decode | None, cut: bool, end: TurnEnd) -> None:
        s = self.s
        if s.engine.done:
            return
        started = picked = time.perf_counter()
        try:
            transcript, known = self._recognised(event.audio, kept)
        except Exception as exc:  # a broken decode must not end the call: treat it as unheard
            self._failed("asr", exc)
            transcript, known = Transcript("", "error", event.audio.duration, time.perf_counter() - started), None
        asr_ms = _ms(started)
        s._emit(transcript)
        expect = s.engine.expecting
        if barged:
            # "mm-hm", "okay" over a prompt is not a turn; at a yes/no prompt "okay" may be the answer
            if not_a_turn(transcript.text, expect.kind):
                return s.resume(transcript.text)  # not a turn: the prompt goes on where it stopped
            s._interrupt("speech")
        if s.voicemail is not None:
            return self._voicemail(event.audio, transcript.text)
        started = time.perf_counter()
        understood = known or self.understand(transcript.text, transcript.alternatives)
        nlu_ms = _ms(started)
        s._emit(understood)
        started = time.perf_counter()
        actions = self.engine_call(s.engine.handle, understood)
        flow_ms = _ms(started)
        if cut:
            actions = [Say(CUT_SHORT), *actions]
        started = time.perf_counter()
        queued = self.perform(actions)
        first_ms = (queued - started) * 1000 if queued else 0.0
        s._emit(TurnTiming(s.now, end.endpoint_ms, round(asr_ms, 1), round(nlu_ms, 1), round(flow_ms, 1),
                           round(first_ms, 1), kept is not None, end.at, picked, queued or 0.0, end.by,
                           *_decode_timing(kept)))

    def text_turn(self, text: str, spoken: bool, alternatives: tuple[str, ...]) -> None:
        if not spoken:  # typed turns take the time they would take to say
            self.s.spoken_time(len(text.split()) / WORDS_PER_SECOND)
        self.handle(self.understand(text, alternatives))

    def handle(self, event: EngineEvent) -> None:
        if self.s.engine.done:
            return
        self.s._emit(event)
        self.perform(self.engine_call(self.s.engine.handle, event))

    def hangup(self) -> None:
        if not self.s.engine.done:
            self.perform(self.engine_call(self.s.engine.hangup))

    def speculate(self, audio: Audio, expect: Expect) -> Guess:
        """Recognise at a pause; complete when the turn evidently is. An end-of-turn model (Smart
        Turn) decides when one is plugged in; otherwise what was said decides. The understanding
        made on the way is handed on, so a kept result is not understood twice."""
        started = time.perf_counter()
        transcript = self.s.stack.recognizer.transcribe(audio, hints_for(expect))
        if not transcript.text.strip():  # heard nothing: never evidence that the caller finished
            return Guess(transcript, False, None, started, time.perf_counter())
        finished = self.eot.finished(audio, expect) if self.eot is not None else None
        understood = None
        if finished is None:
            finished, understood = self._complete(transcript, expect)
        return Guess(transcript, bool(finished), understood, started, time.perf_counter())

    def _complete(self, transcript: Transcript, expect: Expect) -> tuple[bool, Understood | None]:
        """The words already answer the prompt: the expected digit count, one rating, a clear
        yes/no, or a request the NLU is sure of. Anything else waits for the hang-over."""
        text = transcript.text.strip()
        if not text:
            return False, None
        if expect.kind in ("digits", "csat"):
            length = 1 if expect.kind == "csat" else expect.length
            complete = bool(length) and len(digits_in(text)) >= length
            # understood here, during the pause, when it will be kept: not after the turn ends
            return complete, self.understand(transcript.text, transcript.alternatives) if complete else None
        if expect.kind not in ("yesno", "intent"):
            return False, None
        understood = self.understand(transcript.text, transcript.alternatives)
        if expect.kind == "yesno":
            yes_no = understood.entities.get("yesno") in ("yes", "no") or understood.intent in ("affirm", "deny")
            return yes_no, understood
        sure = understood.intent != OUT_OF_SCOPE and understood.confidence >= COMPLETE_CONFIDENCE
        return sure and not mid_phrase(text), understood

    # ---- the stages -------------------------------------------------------------------------
    def _recognised(self, audio: Audio, kept: Decode | None) -> tuple[Transcript, Understood | None]:
        """What the caller said, and its understanding when the speculative decode already made it."""
        if kept is not None:
            try:
                guess = kept.future.result()
                return guess.transcript, guess.understood
            except Exception:  # a failed speculative decode is only a missed shortcut
                log.exception("speculative decode failed; decoding again")
        if self.s.stack.recognizer is None:
            raise RuntimeError("this session has no recogniser; use caller_text()")
        return self.s.stack.recognizer.transcribe(audio, hints_for(self.s.engine.expecting)), None

    def understand(self, text: str, alternatives: tuple[str, ...] = ()) -> Understood:
        if text.strip():
            try:
                return self.s.stack.nlu.understand(text, alternatives)
            except Exception as exc:  # the flow re-asks, as for words it does not know
                self._failed("nlu", exc)
        # speech the recogniser made nothing of (or the NLU failed on) is a no-match
        return Understood(text=text if text.strip() else "", intent=OUT_OF_SCOPE, confidence=0.0,
                          sentiment="neutral", sentiment_score=0.0)

    def _failed(self, stage: str, exc: Exception) -> None:
        log.exception("%s failed in call %s", stage, self.s.engine.record.call_id)
        self.s._emit(StageFailed(stage, f"{type(exc).__name__}: {exc}"))

    def _voicemail(self, audio: Audio, text: str) -> None:
        """The caller's message: kept as a WAV beside its transcription, for the callback task."""
        s = self.s
        s.voicemail = None
        path = write_wav(s.voicemail_dir / f"{s.engine.record.call_id}-{s.turns_heard}.wav", audio)
        understood = replace(self.understand(text), text=text, entities={"recording": str(path)})
        self.handle(understood)

    def engine_call(self, method, *args) -> list[Action]:
        """The engine hears how much call time went by (in samples) before each event."""
        now = self.s.now
        self.s.engine.advance(now - self._engine_at)
        self._engine_at = now
        return method(*args) or []

    def perform(self, actions: list[Action]) -> float | None:
        """Speak, listen, record: what the engine asked for. Returns when (time.perf_counter) the
        first audio was queued, None when nothing was said."""
        try:
            return self._perform(actions)
        finally:  # the record's writes held by the engine: once the answer's first audio is
            self.s.engine.flush_records()  # queued (_speak), else now

    def _perform(self, actions: list[Action]) -> float | None:
        s = self.s
        asks = [a for a in actions if isinstance(a, Ask)]
        interruptible = bool(asks) and asks[-1].barge_in  # nothing to answer: nothing to barge into
        turn = s.engine.record.turns[-1] if s.engine.record.turns else None
        first = None
        for action in actions:
            s._emit(action)
            match action:
                case Ask(text=text):
                    s.listen(action, s.engine.state)
                    queued = self._speak(text, turn, interruptible)
                case Say(text=text):
                    queued = self._speak(text, turn, interruptible)
                case RecordVoicemail():
                    s.record_voicemail(action)
                    queued = None
                case Transfer() | Hangup():
                    queued = None  # the call is over once this turn's prompts have played
            if first is None and queued is not None:
                first = queued
        return first

    def _speak(self, text: str, turn, interruptible: bool) -> float | None:
        """Queue `text` sentence by sentence; returns when its first audio was queued."""
        s = self.s
        s._emit(Prompt(text, s.engine.state))
        prompts = s.stack.prompts
        if prompts is None:  # a text replay: the prompt takes the time it would take to say
            s.spoken_time(len(text.split()) / WORDS_PER_SECOND)
            return None
        playback = Playback(text, turn, interruptible, rate=s.rate)
        s.out.add(playback)
        parts, first = [], None
        try:
            for sentence in prompts.stream(text):  # the first sentence plays while the next renders
                samples = sentence.canonical(s.rate).samples
                parts.append(samples)
                if not s.out.append(playback, samples):
                    break  # the caller barged in: render no more of it
                if first is None:
                    first = time.perf_counter()
                    s.engine.flush_records()  # the answer is on the line: now the record (not its rest)
        except Exception as exc:  # a voice that fails mid-call: the rest of this prompt is lost
            self._failed("tts", exc)
        s.out.rendered(playback)
        audio = Audio(np.concatenate(parts) if parts else np.zeros(0, np.int16), s.rate)
        s._emit(Spoken(text, audio))
        return first


# A sentence does not end on these: "I want to check the balance of" / "my card and" is a caller
# pausing mid-phrase, however sure the NLU already is of the request.
DANGLING = frozenset("""a an the my your our his her their its to of for from with without at into
onto under as than and or but nor so because if when while whether since until unless although
though then also i i'm i'd i'll we he she they is are was were be been am want wanted need needed
um uh er erm hmm""".split())


def mid_phrase(text: str) -> bool:
    """The words stop where a sentence cannot end: a trailing comma, dash or ellipsis, or a last
    word that needs more after it (an article, preposition, conjunction, pronoun, auxiliary)."""
    text = text.strip()
    if text.endswith((",", "-", "...", "…", ";", ":")):
        return True
    words = text.lower().rstrip(".?!").split()
    return bool(words) and words[-1].strip(",.?!\"'") in DANGLING


def _decode_timing(kept: Decode | None) -> tuple[int, float, float]:
    """The kept decode for the breakdown: the pause (ms) it started at, its wait for a worker and
    the decoder, and its own time (ms); -1, 0, 0 without one."""
    if kept is None or not kept.finished:
        return -1, 0.0, 0.0
    guess = kept.future.result()
    return kept.at_pause_ms, round((guess.started - kept.submitted) * 1000, 1), \
        round((guess.finished - guess.started) * 1000, 1)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000
