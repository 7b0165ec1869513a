"""Bot audio onto the wire, one 20 ms packet per tick, ticked by whoever owns the call's clock.

aiortp's paced mode ticks its sender on a media clock of the event loop: one loop wake-up per call
every 20 ms, and a frame the media thread reads waits up to one tick before it leaves. Here the
same public pieces (PacedSender: queue, one packet or a timestamp step per tick, comfort noise at
the start of a silence; RtpSender: sequence numbers and timestamps; DtmfSender) are ticked by the
worker's 20 ms media thread (media.py) while the call runs, so a frame goes out in the tick that
read it, and by a MediaClock on the loop only while no thread drives the leg (a queued caller's announcements, a
bridge, a test peer). Packets leave through a duplicate of the leg's RTP socket, non-blocking:
sending from a thread never touches asyncio's transport, and a full socket buffer drops a packet
(counted) rather than blocking a call's clock. All sender state is behind one lock."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable

from aiortp import DtmfSender, MediaClock, PacedSender
from aiortp.sender import RtpSender

FRAME_S = 0.02
SAMPLES = 160  # per 20 ms frame at 8 kHz


class LineSender:
    def __init__(self, sock: socket.socket, ssrc: int, payload_type: int, dtmf_pt: int, cn_pt: int,
                 remote: Callable[[], tuple[str, int] | None]) -> None:
        self._sock = socket.socket(fileno=os.dup(sock.fileno()))
        self._sock.setblocking(False)  # shared with the loop's copy (one open file): stays non-blocking
        self._lock = threading.Lock()
        self._rtp = RtpSender(transport=self, payload_type=payload_type, ssrc=ssrc, enable_history=False)
        self._rtp.timestamp_increment = SAMPLES
        self._paced = PacedSender(self._rtp, get_addr=remote, cn_payload_type=cn_pt)
        self._dtmf = DtmfSender(sender=self._rtp, dtmf_payload_type=dtmf_pt or 101)
        self._remote = remote
        self._clock: MediaClock | None = None
        self.threaded = False  # the media thread ticks; the loop's clock is stopped
        self.send_failed = 0
        self._idle = True  # the last tick sent nothing
        self.last_sent_at = 0.0  # time.monotonic() of the last audio packet (a benchmark's probe)
        self.talk_started_at = 0.0  # ... of the first audio packet after a silence

    # RtpSender's transport
    def send(self, data: bytes, addr: tuple[str, int] | None = None) -> None:
        target = addr or self._remote()
        if target is None:
            return
        try:
            self._sock.sendto(data, target)
        except OSError:  # EAGAIN on a full buffer, or the peer's port unreachable: lose this packet
            self.send_failed += 1

    @property
    def queued(self) -> int:
        return self._paced.queue_depth

    @property
    def sent(self) -> int:
        return self._paced.paced_sent

    def enqueue(self, payloads: list[bytes]) -> None:
        with self._lock:
            for payload in payloads:
                self._paced.enqueue(payload)

    def discard(self) -> None:
        with self._lock:
            self._paced.discard()

    def tick(self) -> None:
        """One 20 ms step: the next frame, or the timestamp moved over silence."""
        with self._lock:
            before = self._paced.paced_sent
            self._paced.tick()
            if self._paced.paced_sent == before:
                self._idle = True
                return
            now = time.monotonic()
            if self._idle:
                self.talk_started_at = now
            self._idle, self.last_sent_at = False, now

    def dtmf(self, key: str) -> None:
        """An RFC 4733 event (a bridged caller's key to the agent), at the stream's timestamp."""
        with self._lock:
            self._dtmf.send_digit(key, timestamp=self._rtp.current_timestamp)

    # ---- who ticks -------------------------------------------------------------------------
    def loop_clock(self) -> None:
        """Tick from the event loop (call on the loop)."""
        self.threaded = False
        if self._clock is None:
            self._clock = MediaClock(FRAME_S, self._loop_tick)
            self._clock.start()

    def _loop_tick(self) -> None:
        if not self.threaded:
            self.tick()

    def thread_clock(self) -> None:
        """The media thread ticks from now on (call on the loop)."""
        self.threaded = True
        clock, self._clock = self._clock, None
        if clock is not None:
            asyncio.ensure_future(clock.stop())

    async def close(self) -> None:
        self.threaded = True
        if self._clock is not None:
            await self._clock.stop()
            self._clock = None
        self.discard()
        self._sock.close()
