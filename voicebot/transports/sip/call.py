"""One answered SIP call: its RTP leg on the event loop, its Session stepped by the worker's one
media thread (media.py) every 20 ms.

Caller audio is pushed into the Session the moment the RTP leg has it in order (the media thread
sleeps on its inbox, not on a poll tick); every 20 ms tick fills silence when the phone sent none
(silence suppression, comfort noise), reads 20 ms of bot audio and sends it at once: the media
thread is the leg's send clock (no wait for a media clock on the event loop). Full duplex: the
caller is heard while the bot speaks, and the Session's barge-in (its echo gate compares the
caller's audio with the frame played at that moment) stops the prompt. Nothing in a step waits on
a model: push, read and dtmf only queue work for the shared worker pool, so a turn that takes a
second to recognise delays that call's answer, never anybody's RTP. The event loop only moves
packets in: caller frames, keys and the hang-up are posted to the media thread; bot frames leave
from it (rtp.RtpLeg.tick), so the loop has no per-call timer at all."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voicebot.audio import Audio
from voicebot.events import Transcript
from voicebot.flow.actions import Transfer
from voicebot.pipeline.events import TurnTiming
from voicebot.transports.sip.adapter import RATE, SessionPort
from voicebot.transports.sip.dtmf import DigitCollector
from voicebot.pipeline.workers import name_os_thread
from voicebot.transports.sip.media import MediaThread, shared_media
from voicebot.transports.sip.rtp import RtpLeg

log = logging.getLogger(__name__)

TICK_MS = 20
FILL_AFTER_MS = 40  # caller audio this far behind the clock on a clean line: none came, count silence
MAX_FILL_AFTER_MS = 200  # ... on the most jittery line (the wait grows with the measured jitter)
MAX_QUEUED_FRAMES = 3  # bot frames waiting in the paced sender; more would only add latency
TAIL_FRAMES = 1  # sent after a prompt ends: what the line's resampler still held of it
TAIL_S = 0.3  # after the bot's last packet, before the BYE: the far end's buffer plays out
SETTLE_S = 10.0  # after a hang-up: the workers close the record
MAX_CALL_S = 3600.0
LOUD = 500  # a bot frame this loud starts the answer the caller hears (the benchmark's threshold)


@dataclass(frozen=True)
class Ended:
    """What the media thread asks the signalling side to do when the Session is done."""

    transfer_to: str | None  # a SIP URI to transfer to, else hang up
    agent: str | None = None
    queued: Transfer | None = None  # to a queue with nobody free and no URI: wait on the line


class SipCall:
    def __init__(self, call_id: str, port: SessionPort, leg: RtpLeg, loop: asyncio.AbstractEventLoop,
                 on_end: Callable[[SipCall, Ended | None], None],
                 agent_uri: Callable[[Transfer], str | None], media: MediaThread | None = None) -> None:
        self.call_id, self.port, self.leg, self.loop = call_id, port, leg, loop
        self._on_end, self._agent_uri = on_end, agent_uri
        self.media = media or shared_media()
        self.finished = threading.Event()  # the call's end was handed to the event loop
        self._until: float | None = None  # the flow ended the call: the last frames play out until then
        self._transfer: Ended | None = None
        self._keys = DigitCollector()
        self._started = 0.0
        self._heard_ms = 0  # caller audio given to the Session (packets and filled silence)
        self._tail = 0  # frames still to send after the bot stopped speaking
        self.skipped = 0  # ticks whose bot frame was not taken: the sender was still full
        # turn timing: the Session's TurnTiming (from a worker), logged with the moment the answer's
        # first loud frame went out (from this thread), whichever comes second
        self._timings: list[TurnTiming] = []
        self._onsets: deque[float] = deque(maxlen=8)
        self._stage_lock = threading.Lock()
        self._quiet = True
        self._line_quiet = False  # the phone sent comfort noise: it stopped sending, fill at once
        self.log = logging.LoggerAdapter(log, {"call_id": call_id})
        port.subscribe(self._event)

    @property
    def queued(self) -> Transfer | None:
        """The flow put the caller in a queue (nobody free, no SIP URI to hand them to)."""
        return self._transfer.queued if self._transfer is not None else None

    # ---- from the event loop ----------------------------------------------------------------
    def start(self) -> None:
        post = self.media.post
        self.leg.on_audio = lambda frame: post(self, "audio", frame)
        self.leg.on_dtmf = self.key
        self.leg.on_key_down = lambda: post(self, "keydown")
        self.leg.on_silence = lambda: post(self, "quiet")
        self.leg.thread_clock()
        self.media.join(self)

    def key(self, key: str) -> None:
        self.media.post(self, "dtmf", key)

    def remote_hangup(self, why: str = "caller hung up") -> None:
        self.media.post(self, "hangup", why)

    # ---- on the media thread (Session listeners run on the audio path or a worker) ----------
    def _event(self, event: Any) -> None:
        if isinstance(event, Transcript):
            self.log.info("%s: turn recognised in %.2fs", self.call_id, event.processing_seconds)
        elif isinstance(event, TurnTiming):
            with self._stage_lock:
                self._timings.append(event)
                self._log_stages()
        elif isinstance(event, Transfer):
            uri = self._agent_uri(event)
            self.log.info("%s: flow transfers to %s (%s)", self.call_id, event.target, uri or "no SIP URI")
            if uri:
                self._transfer = Ended(uri, event.agent)
            elif event.agent is None and event.queue:
                self._transfer = Ended(None, queued=event)

    def began(self) -> None:
        """Joined the media clock: the call's time starts now."""
        self._started = time.monotonic()
        self.port.start()

    def handle(self, kind: str, value: Any) -> bool:
        """One thing from the event loop; False once the caller hung up (the call is over)."""
        if self._until is not None:  # playing out: only a hang-up matters now
            if kind == "hangup":
                self._end(None)  # gone before the last words: nothing to transfer or hang up
                return False
            return True
        if not self._handle(kind, value):
            self._end(None)
            return False
        return True

    def tick(self) -> bool:
        """One 20 ms step; False once the call's audio is over."""
        now = time.monotonic()
        if self._until is not None:  # the media thread is still the leg's send clock
            self.leg.tick()
            if now < self._until:
                return True
            self._end(self._transfer or Ended(None))
            return False
        self._fill_silence()
        self._answer(self._keys.timeout(now))
        self._send()
        self.leg.tick()
        if self.port.done:
            # the flow ended the call and its last prompt left the Session: let the sender's last
            # frames and the far end's buffer play out, still hearing a hang-up
            self._until = time.monotonic() + self.leg.queued_ms / 1000 + TAIL_S
        elif now - self._started > MAX_CALL_S:
            self.port.hangup()
        return True

    def failed(self) -> None:
        self.log.error("%s: call failed", self.call_id)
        try:
            self.port.hangup()
        except Exception:
            self.log.exception("%s: closing the record failed", self.call_id)
        self._end(None)

    def _end(self, ended: Ended | None) -> None:
        """Hand the call's end to the event loop. Hung up (`ended` None): the record closes on a
        worker; that is waited for off the media thread, which the other calls need."""
        def report() -> None:
            name_os_thread()
            if ended is None:
                self.port.settle(SETTLE_S)
            self.loop.call_soon_threadsafe(self._on_end, self, ended)
            self.finished.set()

        if ended is None:
            threading.Thread(target=report, name=f"end-{self.call_id[:12]}", daemon=True).start()
        else:
            report()

    def _handle(self, kind: str, value: Any) -> bool:
        """One thing from the event loop; False once the caller hung up."""
        match kind:
            case "hangup":
                self.log.info("%s: %s", self.call_id, value)
                self.port.hangup()
                return False
            case "keydown":
                self._key_down()
            case "dtmf":
                self.log.info("%s: key pressed", self.call_id)  # which key stays private (PINs)
                self._key_down()  # a key that came whole (SIP INFO, or only its end packets)
                self._answer(self._keys.key(value, time.monotonic(), *self.port.expecting()))
            case "quiet":
                self._line_quiet = True
            case "audio":
                self._line_quiet = False
                self.port.caller(value)
                self._heard_ms += value.num_samples * 1000 // value.rate
        return True

    def _send(self) -> None:
        """20 ms of bot audio to the paced sender. While the bot is quiet the frame (silence) is
        read, so the Session's clock and echo reference go on, but not sent: the line stays
        silent (aiortp sends comfort noise), as a phone with silence suppression does."""
        if self.leg.queued_ms // TICK_MS >= MAX_QUEUED_FRAMES:
            self.skipped += 1  # not read either: what the Session counts as played stays on the wire
            return
        before = self.port.speaking
        frame = self.port.read(TICK_MS)
        speaking = before or self.port.speaking  # a prompt that ended or began inside this frame
        send, self._tail = speaking or self._tail > 0, TAIL_FRAMES if speaking else max(0, self._tail - 1)
        if send:
            self.leg.feed(frame)
        self._time_answer(frame if send else None)

    def _time_answer(self, frame: Audio | None) -> None:
        """Note the moment an answer's first loud frame goes to the wire (time.perf_counter, the
        clock time.monotonic reads too, so a caller on the same machine can line it up with its
        own), for the turn stages."""
        loud = frame is not None and int(abs(frame.samples.astype("int32")).max(initial=0)) >= LOUD
        if loud and self._quiet:
            with self._stage_lock:
                self._onsets.append(time.perf_counter())
                self._log_stages()
        self._quiet = not loud

    def _log_stages(self) -> None:
        """Each turn's stages with its answer's onset. The TurnTiming comes after the whole prompt
        has rendered, when its first frames may have gone out already (or the caller, having
        heard them, hung up): whichever of the two comes second logs the line."""
        while self._timings:
            timing = self._timings[0]
            onset = next((o for o in self._onsets if o >= timing.queued_at), None)
            if timing.queued_at and onset is None:
                return
            self._timings.pop(0)
            if timing.queued_at:  # else the turn said nothing (a transfer, a hang-up)
                self._log_turn(timing, onset)

    def _log_turn(self, timing: TurnTiming, onset: float) -> None:
        self.log.info("%s: turn stages %s", self.call_id, json.dumps({
            "ended_at": timing.ended_at, "picked_at": timing.picked_at, "queued_at": timing.queued_at,
            "sent_at": onset, "endpoint_ms": timing.endpoint_ms, "asr_ms": timing.asr_ms,
            "nlu_ms": timing.nlu_ms, "flow_ms": timing.flow_ms, "tts_first_ms": timing.tts_first_ms,
            "speculative": timing.speculative}))

    def _fill_silence(self) -> None:
        """A phone with silence suppression sends nothing (or a CN packet) while the caller is
        quiet; the Session still needs that time, or no utterance would ever end. After a CN
        packet the silence counts at once; otherwise a packet only late by jitter is not replaced:
        the gap must outlast the jitter measured on this line (RFC 3550's estimate, three times
        over) and a wait for a reordered packet."""
        behind = int((time.monotonic() - self._started) * 1000) - self._heard_ms
        if not self._line_quiet:
            after = FILL_AFTER_MS + 3 * self.leg.jitter_ms + self.leg.reorder.wait_s * 1000
            if behind <= min(MAX_FILL_AFTER_MS, after):
                return
        frames = behind // TICK_MS
        if frames <= 0:  # the caller's audio is ahead of this clock (packets that came in a burst): none missing
            return
        self.port.caller(Audio.silence(frames * TICK_MS / 1000, RATE))
        self._heard_ms += frames * TICK_MS

    def _key_down(self) -> None:
        """A key over a prompt stops it at once, like speech does (unless the prompt forbids
        barge-in), while the digits go on being gathered; what the paced sender still holds of
        it is thrown away too."""
        if self.port.key_down():
            self.leg.stop_playing()

    def _answer(self, digits: str | None) -> None:
        if digits:
            self.port.dtmf(digits)
