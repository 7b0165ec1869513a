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

from voicebot.asr.base import asr_version
from voicebot.audio import Audio
from voicebot.events import DtmfPressed, NoInput, SpeechEnded, SpeechStarted
from voicebot.flow.actions import Ask, Expect, RecordVoicemail
from voicebot.pipeline.events import BargedIn, Interrupted, Resumed
from voicebot.pipeline.framing import ExactResampler, FrameBuffer
from voicebot.pipeline.bargein import make_barge_in
from voicebot.pipeline.echo_input import EchoInput
from voicebot.pipeline.playout import Playback, Playout
from voicebot.pipeline.seams import BargeInDetector, EndOfTurn, Engine
from voicebot.pipeline.speculation import Clocks, Decode, EndNow, Speculator
from voicebot.pipeline.stack import Stack
from voicebot.pipeline.turns import TurnEnd, TurnRunner
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
# Speculative decodes at the caller's pauses, and when they end a turn: pipeline/speculation.py.
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
        engine.hold_records = not inline  # the store and webhook wait until an answer is queued
        engine.record.nlu_model = getattr(stack.nlu, "version", None)  # which models heard this call
        engine.record.asr_model = asr_version(stack.recognizer)
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
        self._spec = Speculator(self._launch)  # the early and standard decodes at pauses
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
        return not self._strand.idle or self._spec.pending

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
        self._spec.settle(timeout)
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
        self._speculate_or_cut()
        self._maybe_resume(voiced)
        self._count_silence(frame.num_samples)

    def _utterance_ended(self, event: SpeechEnded, ended: EndNow | None = None) -> None:
        """`ended`: the complete decode that ended the turn (its result is the turn's); otherwise
        the hang-over ended it and a decode the caller did not speak past is kept (speculation.py)."""
        cut = self._ep.last_cut
        kept, since = self._spec.take(self._clocks(), ended)
        echo = self.out.speaking and not self._barged  # ended under a prompt it did not stop
        own_ms = self._utt_own * self.frame_ms
        if own_ms < MIN_OWN_SPEECH_MS or self._utt_blocked or echo or self.engine.done:
            log.debug("dropped %.2fs utterance (own %d ms, blocked %s, echo %s)", event.end - event.start,
                      own_ms, self._utt_blocked, echo)
            if kept is not None:
                kept.future.cancel()
            return
        self._emit(event)
        self.turns_heard += 1
        barged, self._barge_pending = self._barged, self._barged
        self._silent = 0
        end = TurnEnd((self._pushed - since) * 1000 // self.rate, "cut" if cut else _ended_by(ended, kept),
                      time.perf_counter())  # the wall clock only for the latency breakdown, never for decisions
        self._strand.submit(lambda: self._runner.caller_turn(event, barged, kept, cut, end))

    def _speculate_or_cut(self) -> None:
        """At short pauses, recognise what was said so far on a worker (speculation.py): early,
        ending the turn on evidence that the caller finished; standard, kept if the caller does
        not go on."""
        if not self.adaptive or self.stack.recognizer is None or self.voicemail is not None:
            return
        kind = self._listening.expect.kind if self._listening else "intent"
        ended = self._spec.step(self._clocks(), kind, hold=self._barge_pending)
        if ended is not None:
            for event in self._ep.close_now():
                self._utterance_ended(event, ended)

    def _clocks(self) -> Clocks:
        return Clocks(self._ep.in_speech, self._ep.quiet_ms, self._ep.pause_ms, self._last_sounding,
                      self._last_voiced)

    def _launch(self) -> Future:
        """A speculative decode of the utterance so far on the shared pool. When it finishes
        between two frames (a live line) the decision is taken then, not at the next frame."""
        expect = self._listening.expect if self._listening else Expect()
        at = self._pushed
        future = shared_pool().submit(self._runner.speculate, self._ep.utterance_so_far(), expect)
        future.add_done_callback(lambda f: self._decoded(f, at))
        return future

    def _decoded(self, future: Future, at: int) -> None:
        """A decode finished (on a worker). A replay settles before its next frame, so its clock
        has not moved since the launch and nothing happens here: its decisions stay at frames, as
        deterministic as before; a live line decides up to a frame sooner."""
        if future.cancelled():
            return
        with self._lock:
            if self._pushed != at and not self._hung_up:
                self._speculate_or_cut()

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


def _ended_by(ended: EndNow | None, kept: Decode | None) -> str:
    if ended is not None:
        return "early decode" if ended.decode.early else "standard decode"
    return "hang-over" if kept is None or kept.future.done() else "hang-over, decode running"


def _beep(rate: int, hz: float = 1000.0, seconds: float = 0.3) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
