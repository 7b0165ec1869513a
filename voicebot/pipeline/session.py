"""`Session`: one call, full duplex. The same code runs a replayed WAV, a microphone and a SIP call.

What a transport calls (all cheap; none waits on a model, the store, the webhook or TTS):

    session.start()             the bot answers the call (its greeting starts rendering)
    session.push(audio)         caller audio, any rate and any frame size (resampled per call by
                                one streaming resampler, re-buffered to the VAD's frame)
    session.read(ms, rate=None) the next `ms` of bot audio (silence when there is nothing to play)
    session.dtmf("1")           keys pressed (stops an interruptible prompt)
    session.key_down()          a key is being pressed, its digits to follow (stops it at once)
    session.hangup()            the caller hung up or their audio ran out
    session.done                the call is over and its last prompt has been played
    session.subscribe(fn)       every event of the call, as it happens (an exception in `fn` is
                                logged, the call goes on)
    session.settle()            wait until the workers have answered (replays: a virtual clock)

A live transport calls push and read every 10-30 ms from its audio thread, in either order. Turns
(ASR → NLU → flow → TTS) run on the process's shared worker pool, one call's jobs in order on its
`Strand`; prompts stream out sentence by sentence as they render.

Time is counted in samples (the caller's audio, the bot's audio, spoken-time of text turns), never
read from the wall clock, so a replay that `settle()`s after every frame is deterministic and runs
faster than real time, and a paced replay at 1x runs the very same code as a live line."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from voicebot.audio import Audio
from voicebot.events import DtmfPressed, NoInput, SpeechEnded, SpeechStarted
from voicebot.flow.actions import Ask, Expect, RecordVoicemail
from voicebot.pipeline.events import BargedIn, Interrupted, Resumed
from voicebot.pipeline.framing import ExactResampler, FrameBuffer
from voicebot.pipeline.bargein import make_barge_in
from voicebot.pipeline.echo_input import EchoInput
from voicebot.pipeline.playout import Playback, Playout
from voicebot.pipeline.seams import BargeInDetector, EndOfTurn, Engine
from voicebot.pipeline.stack import Stack
from voicebot.pipeline.turns import TurnRunner
from voicebot.pipeline.workers import Strand, shared_pool
from voicebot.vad import Endpointer

log = logging.getLogger(__name__)

Listener = Callable[[Any], None]
DEFAULT_NO_INPUT_S = 6.0
# Adaptive endpointing: the pause that ends a turn follows what the prompt expects. One word
# ("yes", "four") is over quickly; an open question gets room to think mid-sentence. A digit
# prompt waits longer between groups but ends as soon as the expected count is heard.
HANG_OVER_MS = {"yesno": 360, "csat": 360, "choice": 450, "digits": 750, "intent": 600, "free": 900}
FIXED_HANG_OVER_MS = 600  # without adaptive endpointing (the old path, kept as a baseline)
VOICEMAIL_PAUSE_MS = 3000  # a message ends at a long pause, or at the flow's max_seconds
MAX_TURN_S = 20.0  # a caller who talks past this is cut (politely) and answered
# Two speculative decodes, two clocks (docs/realtime.md "Endpointing"):
# - EARLY: at SPECULATE_AT_MS of pause (the early clock, below) recognition starts while the
#   pause goes on. Its result ends the turn before the
#   hang-over only on evidence that the caller has finished: the words answer the prompt
#   (TurnRunner.speculate: non-empty, the digit count, a clear yes/no or rating, a request the NLU
#   is sure of that does not end mid-phrase) AND that pause has reached END_AT_MS for the kind.
#   Its result is used for nothing else.
# - STANDARD: when the early decode has not ended the turn, recognition starts again at
#   STANDARD_SPECULATE_AT_MS of webrtcvad's own pause on the utterance so far, kept when the caller
#   does not go on and ending the turn once it says the words answer the prompt (the rule and
#   audio of the endpointing before the early decode), else the hang-over decides.
# So a turn without that evidence is heard and ended exactly as before; only complete answers
# gain. Chosen on the development set (scripts/eval_turn_end.py), never on held-out data.
SPECULATE_AT_MS = 120
END_AT_MS = {"yesno": 270, "csat": 270, "choice": 270, "digits": 270, "intent": 270, "free": 270}
STANDARD_SPECULATE_AT_MS = 240
# The early clock is the endpointer's `quiet_ms`: webrtcvad's pause unless VadConfig.pause_below_db
# gates a word's quiet decay (off: on a quiet development line the 40 dB gate cut off more
# callers for every kind, scripts/eval_turn_end.py --snr-db 60; docs/realtime.md).
MIN_OWN_SPEECH_MS = 120  # less of the caller's own voice in an "utterance": echo or a noise
RESUME_AFTER_MS = 300  # paused, and the caller went quiet without a turn: play on


class Session:
    def __init__(self, engine: Engine, stack: Stack, *, rate: int = 16000, listener: Listener | None = None,
                 voicemail_dir: Path = Path("var/voicemail"), barge_in: BargeInDetector | None = None,
                 end_of_turn: EndOfTurn | None = None, recording_path: Path | None = None,
                 inline: bool = False, adaptive: bool = True,
                 keep_audio: bool = True) -> None:  # False: the call's audio is not kept in memory (SIP)
        from voicebot.pipeline.recording import CallRecording

        self.engine, self.stack, self.rate = engine, stack, rate
        self.events: list[Any] = []
        self.recording = CallRecording(rate, recording_path, keep=keep_audio)
        self._listeners = [listener] if listener else []
        self.frame_ms = stack.vad.frame_ms
        self._frames = FrameBuffer(rate, self.frame_ms)
        self._out_resamplers: dict[int, ExactResampler] = {}
        self._ep = Endpointer(stack.vad, rate)
        self._ep.hang_over_ms = FIXED_HANG_OVER_MS
        self._detector = barge_in or make_barge_in(stack.barge_in, rate, stack.vad)
        self._echo = EchoInput(stack.echo)  # at the transport's rate, before resampling
        self.adaptive = adaptive and not inline
        self.out = Playout(rate)
        self._strand = Strand(inline=inline)
        self._lock = threading.RLock()
        self._pushed = self._played = self._spoken = 0  # samples of caller audio, bot audio, text turns
        self._listening: Ask | None = None
        self.voicemail: RecordVoicemail | None = None
        self._silent = 0  # samples the caller has been silent since the bot stopped talking
        self._own: deque[bool] = deque(maxlen=max(1, stack.vad.pre_roll_ms // self.frame_ms))
        self._utt_own = 0  # frames of the caller's own speech in the open utterance
        self._utt_blocked = False  # it started while a prompt that cannot be interrupted played
        self._barged = False  # a prompt is paused for caller speech; the worker decides its fate
        self._barge_pending = False
        self._paused_quiet = 0
        self._last_voiced = 0  # sample count at the caller's last voiced frame (webrtcvad)
        self._last_sounding = 0  # ... at the last frame the pause gate calls sounding (the quiet's start)
        self._speculative: tuple[Future, int] | None = None  # standard decode, keyed by _last_voiced
        self._early: tuple[Future, int] | None = None  # early decode, keyed by _last_sounding
        self._stale_spec: Future | None = None
        self._last_played = Audio(np.zeros(stack.vad.frame_ms * rate // 1000, np.int16), rate)
        self._hung_up = False
        self.turns_heard = 0  # utterances accepted as caller turns
        self.last_ask: tuple[str, Ask] | None = None  # (state, prompt) the bot last asked
        self.voicemail_dir = voicemail_dir
        self._runner = TurnRunner(self, end_of_turn)

    # ---- what a transport calls -------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._hung_up or (self.engine.done and self._strand.idle and not self.out.speaking)

    @property
    def busy(self) -> bool:
        """Workers are still on this call (a turn, or a speculative decode)."""
        specs = (self._speculative, self._early)
        return not self._strand.idle or any(s is not None and not s[0].done() for s in specs)

    @property
    def speaking(self) -> bool:
        return self.out.speaking

    @property
    def hearing_speech(self) -> bool:
        return self._ep.in_speech

    @property
    def now(self) -> float:
        """Call time in seconds: audio that went both ways, plus the spoken time of text turns."""
        return (max(self._pushed, self._played) + self._spoken) / self.rate

    def cancel_echo(self, name: str) -> None:
        """Cancel echo with `name` (voicebot.audio.echo) from now on; a transport whose caller
        hears the bot through its own microphone (speakers) turns this on before `start()`."""
        with self._lock:
            self._echo = EchoInput(name)

    def start(self) -> None:
        self._strand.submit(lambda: self._runner.perform(self._runner.engine_call(self.engine.start)))

    def push(self, audio: Audio) -> None:
        if self._hung_up:
            return
        with self._lock:
            for frame in self._frames.push(self._echo.cancel(audio)):
                self._frame(frame)

    def read(self, ms: int, rate: int | None = None) -> Audio:
        samples = self.out.read(self.rate * ms // 1000)
        frame = Audio(samples, self.rate)
        with self._lock:
            self._played += samples.shape[0]
            self._last_played = frame
        self.recording.bot(frame)
        if rate is not None and rate != self.rate:
            resample = self._out_resamplers.setdefault(rate, ExactResampler(rate))
            frame = Audio(resample(frame, rate * ms // 1000), rate)
        with self._lock:
            self._echo.played(frame)  # the reference the echo canceller cancels against
        return frame

    def dtmf(self, digits: str) -> None:
        self.key_down()
        self._strand.submit(lambda: self._runner.handle(DtmfPressed(digits)))

    def key_down(self) -> bool:
        """A key over an interruptible prompt stops it now, as speech does, though the transport
        is still gathering the digits of the answer; True if a prompt stopped."""
        with self._lock:
            self._silent = 0
            if self.out.speaking and self.out.interruptible:
                self._interrupt("dtmf")
                return True
            return False

    def caller_text(self, text: str, spoken: bool = False, alternatives: tuple[str, ...] = ()) -> None:
        """A caller turn as text (typed, or what a recogniser heard, with its n-best readings)."""
        self._strand.submit(lambda: self._runner.text_turn(text, spoken, alternatives))

    def no_input(self) -> None:
        """The caller stays silent for the whole no-input timeout (replays say so explicitly)."""
        with self._lock:
            timeout = self._listening.no_input_timeout if self._listening else DEFAULT_NO_INPUT_S
            waited = max(self._silent / self.rate, timeout)
            self._spoken += int((waited - self._silent / self.rate) * self.rate)
            self._silent = 0
        self._strand.submit(lambda: self._runner.handle(NoInput(waited)))

    def hangup(self) -> None:
        with self._lock:
            if self._hung_up:
                return
            for event in self._ep.flush():
                self._utterance_ended(event)
            self._hung_up = True
        self._strand.submit(self._runner.hangup)

    def settle(self, timeout: float | None = None) -> None:
        for spec in (self._early, self._speculative):
            if spec is not None:
                spec[0].exception(timeout)
        self._strand.wait(timeout)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # ---- the audio path (lock held) ---------------------------------------------------------
    def _frame(self, frame: Audio) -> None:
        secret = self._listening is not None and self._listening.expect.secret
        self.recording.caller(Audio(np.zeros_like(frame.samples), self.rate) if secret else frame)
        self._pushed += frame.num_samples
        speaking = self.out.speaking
        was_open = self._ep.in_speech
        events = self._ep.push(frame)
        voiced = self._ep.last_voiced
        heard = self._detector.hear(frame, self._last_played, voiced)
        if not speaking:
            self._detector.reset()  # only speech over a prompt counts towards barging into it
        if voiced:
            self._last_voiced = self._pushed
        if self._ep.last_sounding:  # where the quiet restarts (webrtcvad, gated on a quiet tail)
            self._last_sounding = self._pushed
        self._own.append(heard.own_speech)
        if was_open and self._ep.in_speech:
            self._utt_own += heard.own_speech
        if (speaking and heard.barge_in and not self.out.paused and self.out.interruptible
                and not self.engine.done):
            self.out.pause()
            self._barged, self._paused_quiet = True, 0
            self._emit(BargedIn(self.now))
        for event in events:
            if isinstance(event, SpeechStarted):
                self._utt_own = sum(self._own)
                self._utt_blocked = speaking and not self.out.interruptible
                self._emit(event)
            elif isinstance(event, SpeechEnded):
                self._utterance_ended(event)
        self._speculate_or_cut(voiced)
        self._maybe_resume(voiced)
        self._count_silence(frame.num_samples)

    def _utterance_ended(self, event: SpeechEnded, early: Future | None = None) -> None:
        """`early`: the early decode that ended the turn (its result is the turn's); otherwise the
        standard decode is kept when the caller did not go on after it started."""
        cut = self._ep.last_cut
        spec, self._speculative = self._speculative, None
        early_spec, self._early = self._early, None
        if early is not None:
            usable, since = early, self._early_clock()[1]
        else:  # the hang-over (or a complete standard decode) ended it
            usable, since = _kept(spec, self._last_voiced, early_spec, self._early_clock()[1]), self._last_voiced
        for other in (spec, early_spec):
            if other is not None and other[0] is not usable:
                other[0].cancel()  # its result is not the turn's (running: it finishes unused)
        echo = self.out.speaking and not self._barged  # ended under a prompt it did not stop
        own_ms = self._utt_own * self.frame_ms
        if own_ms < MIN_OWN_SPEECH_MS or self._utt_blocked or echo or self.engine.done:
            log.debug("dropped %.2fs utterance (own %d ms, blocked %s, echo %s)", event.end - event.start,
                      own_ms, self._utt_blocked, echo)
            if usable is not None:
                usable.cancel()
            return
        self._emit(event)
        self.turns_heard += 1
        barged, self._barge_pending = self._barged, self._barged
        self._silent = 0
        endpoint_ms = (self._pushed - since) * 1000 // self.rate
        ended = time.perf_counter()  # wall clock only for the latency breakdown, never for decisions
        self._strand.submit(lambda: self._runner.caller_turn(event, barged, usable, cut, endpoint_ms, ended))

    def _speculate_or_cut(self, voiced: bool) -> None:
        """At short pauses, recognise what was said so far on a worker (module comment above):
        early, ending the turn on evidence that the caller finished; standard, kept if the caller
        does not go on."""
        if not self.adaptive or self.stack.recognizer is None or self.voicemail is not None:
            return
        self._early = self._went_on(self._early, self._early_clock()[1])
        self._speculative = self._went_on(self._speculative, self._last_voiced)
        if not self._ep.in_speech or self._barge_pending:
            return
        stale = self._stale_spec
        if stale is not None and stale.done():
            self._stale_spec = stale = None
        early, spec = self._early, self._speculative
        kind = self._listening.expect.kind if self._listening else "intent"
        quiet_ms, since = self._early_clock()
        if early is None and spec is None and stale is None and quiet_ms >= SPECULATE_AT_MS \
                and self._ep.pause_ms < STANDARD_SPECULATE_AT_MS:
            self._early = (self._decode(), since)
        elif early is not None and _finished(early[0]):
            if early[0].result()[1] and quiet_ms >= END_AT_MS.get(kind, max(END_AT_MS.values())):
                for event in self._ep.close_now():
                    self._utterance_ended(event, early[0])
                return
        complete_early = early is not None and (not early[0].done() or (_finished(early[0]) and early[0].result()[1]))
        if complete_early or stale is not None:  # a pending early decode or one waiting for END_AT
            return
        if spec is None and self._ep.pause_ms >= STANDARD_SPECULATE_AT_MS:
            self._speculative = (self._decode(), self._last_voiced)
        elif spec is not None and _finished(spec[0]) and spec[0].result()[1]:
            for event in self._ep.close_now():  # the words answer the prompt: no need for the hang-over
                self._speculative = spec
                self._utterance_ended(event)

    def _early_clock(self) -> tuple[int, int]:
        """The early decode's pause (ms) and the sample where it started: the endpointer's quiet
        (webrtcvad's pause, or its gated quiet when VadConfig.pause_below_db is set)."""
        return self._ep.quiet_ms, self._last_sounding

    def _decode(self) -> Future:
        expect = self._listening.expect if self._listening else Expect()
        return shared_pool().submit(self._runner.speculate, self._ep.utterance_so_far(), expect)

    def _went_on(self, spec: tuple[Future, int] | None, since: int) -> tuple[Future, int] | None:
        """Drop a speculative decode when the caller went on speaking after it started."""
        if spec is None or spec[1] == since:
            return spec
        if not spec[0].cancel():
            self._stale_spec = spec[0]  # still running: the next decode would only queue behind it
        return None

    def _maybe_resume(self, voiced: bool) -> None:
        if not self._barged or self._barge_pending:
            return
        self._paused_quiet = 0 if (voiced or self._ep.in_speech) else self._paused_quiet + 1
        if self._paused_quiet * self.frame_ms >= RESUME_AFTER_MS:
            self.resume("")

    def _count_silence(self, samples: int) -> None:
        waiting = (self._listening is not None and not self.out.speaking and not self._ep.in_speech
                   and self._strand.idle and not self.engine.done)
        self._silent = self._silent + samples if waiting else 0
        timeout = self._listening.no_input_timeout if self._listening else DEFAULT_NO_INPUT_S
        if waiting and self._silent >= timeout * self.rate:
            waited, self._silent = self._silent / self.rate, 0
            self._strand.submit(lambda: self._runner.handle(NoInput(waited)))

    # ---- shared with the worker side (each takes the lock) ---------------------------------
    def resume(self, heard: str) -> None:
        with self._lock:
            self.out.resume()
            self._detector.reset()
            self._barged = self._barge_pending = False
            self._emit(Resumed(self.now, heard))

    def _interrupt(self, by: str) -> None:
        with self._lock:
            stopped = self.out.stop()
            self._detector.reset()
            self._barged = self._barge_pending = False
            played = sum(p.pos for p in stopped) * 1000 // self.rate
            self._emit(Interrupted(self.now, played, by))

    def listen(self, ask: Ask, state: str) -> None:
        """The bot now waits for an answer to `ask`: endpointing follows what it expects."""
        with self._lock:
            self._listening, self.last_ask, self._silent = ask, (state, ask), 0
            self._ep.hang_over_ms = HANG_OVER_MS.get(ask.expect.kind, 600) if self.adaptive \
                else FIXED_HANG_OVER_MS
            self._ep.max_speech_s = MAX_TURN_S

    def record_voicemail(self, action: RecordVoicemail) -> None:
        with self._lock:
            self.voicemail = action
            self._listening = Ask("", Expect("free"), DEFAULT_NO_INPUT_S, barge_in=False)
            self._ep.hang_over_ms = VOICEMAIL_PAUSE_MS
            self._ep.max_speech_s = action.max_seconds
            if action.beep:
                tone = Playback("(beep)", None, interruptible=False, rate=self.rate, rendered=True)
                tone.chunks.append(_beep(self.rate))
                self.out.add(tone)

    def spoken_time(self, seconds: float) -> None:
        with self._lock:
            self._spoken += int(seconds * self.rate)

    def _emit(self, event: Any) -> None:
        self.events.append(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a printer or webhook listener failing must not end the call
                log.exception("listener %r failed on %s", listener, type(event).__name__)


def _kept(standard: tuple[Future, int] | None, last_voiced: int, early: tuple[Future, int] | None,
          last_sounding: int) -> Future | None:
    """The decode a turn ended by the hang-over keeps: the standard one (the audio the recogniser
    always got) when the caller did not go on after it started and it is done; else an early one
    still valid (a live line whose decodes are slower than the pause: it started first), else the
    standard one still running. Replays (settled after every frame) always take the first."""
    standard = standard[0] if standard is not None and standard[1] == last_voiced else None
    early = early[0] if early is not None and early[1] == last_sounding else None
    if standard is not None and (standard.done() or early is None):
        return standard
    return early


def _finished(future: Future) -> bool:
    """Done with a result (not cancelled, not failed)."""
    return future.done() and not future.cancelled() and future.exception() is None


def _beep(rate: int, hz: float = 1000.0, seconds: float = 0.3) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
