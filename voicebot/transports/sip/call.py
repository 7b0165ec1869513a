"""One answered SIP call: its RTP leg on the event loop, its Session on its own thread.

The event loop only moves packets: caller frames, keys and the hang-up go into a queue, bot
audio comes back through `loop.call_soon_threadsafe` into the RTP leg's paced sender. A turn
that takes a second to recognise therefore delays that call's answer, never anybody's RTP."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voicebot.audio import Audio
from voicebot.events import Transcript
from voicebot.transports.sip.adapter import SessionPort
from voicebot.transports.sip.dtmf import DigitCollector
from voicebot.transports.sip.rtp import RtpLeg

log = logging.getLogger(__name__)

SILENCE_FILL_S = 0.1  # no caller packet this long (silence suppression, CN, loss): count it as silence
TAIL_S = 0.3  # after the bot's last packet, before the BYE: the far end's buffer plays out
MAX_CALL_S = 3600.0


@dataclass(frozen=True)
class Ended:
    """What the call thread asks the signalling side to do when the Session is done."""

    transfer_to: str | None  # a SIP URI to transfer to, else hang up
    agent: str | None = None
    queued: Any = None  # the flow's Transfer to a queue with nobody free and no URI: wait on the line


class SipCall:
    def __init__(self, call_id: str, port: SessionPort, leg: RtpLeg, loop: asyncio.AbstractEventLoop,
                 on_end: Callable[[SipCall, Ended | None], None], agent_uri: Callable[[Any], str | None]) -> None:
        self.call_id, self.port, self.leg, self.loop = call_id, port, leg, loop
        self._on_end, self._agent_uri = on_end, agent_uri
        self._inbox: queue.Queue[tuple[str, Any, float]] = queue.Queue()
        self._speaking_until = 0.0
        self._transfer: Ended | None = None
        self._keys = DigitCollector()
        self._heard_until = time.monotonic()  # caller time the Session has been given, by the clock
        self.log = logging.LoggerAdapter(log, {"call_id": call_id})
        self.thread = threading.Thread(target=self._run, name=f"call-{call_id[:12]}", daemon=True)
        leg.on_audio = lambda frame: self._inbox.put(("audio", frame, time.monotonic()))
        leg.on_dtmf = self.key
        port.subscribe(self._event)

    # ---- from the event loop ----------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def key(self, key: str) -> None:
        self._inbox.put(("dtmf", key, time.monotonic()))

    def remote_hangup(self, why: str = "caller hung up") -> None:
        self._inbox.put(("hangup", why, time.monotonic()))

    # ---- on the call's thread ---------------------------------------------------------------
    def _event(self, event: Any) -> None:
        if isinstance(event, Transcript):
            self.log.info("%s: turn recognised in %.2fs", self.call_id, event.processing_seconds)
        if type(event).__name__ == "Transfer":  # flow's action; transports do not import the flow
            uri = self._agent_uri(event)
            self.log.info("%s: flow transfers to %s (%s)", self.call_id, event.target, uri or "no SIP URI")
            if uri:
                self._transfer = Ended(uri, event.agent)
            elif event.agent is None and event.queue:
                self._transfer = Ended(None, queued=event)

    def _run(self) -> None:
        started = time.monotonic()
        ended: Ended | None = None
        try:
            self.port.start()
            self._play()
            while True:
                if self.port.done:
                    ended = self._finish()
                    break
                if time.monotonic() - started > MAX_CALL_S:
                    self.port.hangup()
                    continue
                try:
                    kind, value, at = self._inbox.get(timeout=0.05)
                except queue.Empty:
                    self._answer(self._keys.timeout(time.monotonic()))
                    self._fill_silence(time.monotonic())
                    continue
                if kind == "hangup":
                    self.log.info("%s: %s", self.call_id, value)
                    self.port.hangup()
                    return
                if kind == "dtmf":
                    self.log.info("%s: key pressed", self.call_id)  # which key stays private (PINs)
                    self._answer(self._keys.key(value, at, *self.port.expecting()))
                elif at >= self._speaking_until:  # half-duplex: see adapter.py
                    self._fill_silence(at - 0.02)
                    self.port.caller(value)
                    self._heard_until = max(self._heard_until, at)
                self._play()
        except Exception:
            self.log.exception("%s: call failed", self.call_id)
            try:
                self.port.hangup()
            except Exception:
                self.log.exception("%s: closing the record failed", self.call_id)
        finally:
            self.loop.call_soon_threadsafe(self._on_end, self, ended)

    def _fill_silence(self, now: float) -> None:
        """A phone with silence suppression sends nothing (or a CN packet) while the caller is
        quiet; the Session still needs that time, or no utterance would ever end."""
        start = max(self._heard_until, self._speaking_until)
        frames = int((now - start) / 0.02)
        if now - start < SILENCE_FILL_S or frames <= 0:
            return
        for _ in range(frames):
            self.port.caller(Audio.silence(0.02, 8000))
        self._heard_until = start + frames * 0.02
        self._play()

    def _answer(self, digits: str | None) -> None:
        if digits:
            self.port.dtmf(digits)
            self._play()

    def _play(self) -> None:
        for audio in self.port.bot_audio():
            now = time.monotonic()
            self._speaking_until = max(now, self._speaking_until) + audio.duration
            self.loop.call_soon_threadsafe(self.leg.play, audio)

    def _finish(self) -> Ended | None:
        """The flow ended the call: let the last prompt play out, keep hearing a hang-up."""
        while time.monotonic() < self._speaking_until + TAIL_S:
            try:
                kind, _, _ = self._inbox.get(timeout=0.05)
            except queue.Empty:
                continue
            if kind == "hangup":
                return None  # gone before the last words: nothing to transfer or hang up
        return self._transfer or Ended(None)
