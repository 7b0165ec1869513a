"""One RTP leg: G.711 at 20 ms both ways on aiortp (jitter buffer, loss concealment, RFC 4733
events, comfort noise, a paced sender on its own 20 ms clock).

What this adds is strictness about what comes in: only RTP version 2 from the peer's address
with a negotiated payload type reaches the jitter buffer, so stray or random datagrams sent to
the port change nothing (aiortp alone would decode them as audio or reset the stream)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import numpy as np
from aiortp import RTPSession
from aiortp.dtmf import EVENT_TO_DIGIT
from aiortp.packet import RtpPacket
from aiortp.port_allocator import PortAllocator

from voicebot.audio import Audio
from voicebot.audio.g711 import alaw_encode, ulaw_encode

log = logging.getLogger(__name__)

RATE = 8000
FRAME = RATE * 20 // 1000  # samples per 20 ms packet
CN_PT = 13  # RFC 3389 comfort noise: accepted, never decoded as speech
_ENCODE = {0: ulaw_encode, 8: alaw_encode}


class _StrictSession(RTPSession):
    """aiortp's session behind a gate: the peer's address, RTP v2, negotiated payload types."""

    accept_from: tuple[str, int] = ("", 0)  # the SDP's address
    signal_ip = ""  # where the INVITE came from
    accepted_types: frozenset[int] = frozenset()
    dropped = 0
    _heard = False
    on_key_down: Callable[[], None] | None = None
    on_packet: Callable[[bytes], None] | None = None  # every accepted packet as it arrives (a benchmark's probe)
    _key_timestamp: int | None = None

    def _handle_rtp(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12 or data[0] >> 6 != 2 or (data[1] & 0x7F) not in self.accepted_types:
            self.dropped += 1
            return
        if addr != self.accept_from:
            # A phone behind NAT sends from another port than its SDP names, but from the IP
            # its signalling came from: follow it once, before anything came from the SDP address.
            if self._heard or addr[0] != self.signal_ip:
                self.dropped += 1
                return
            log.info("RTP from %s instead of %s: following it (NAT)", addr, self.accept_from)
            self.accept_from = addr
            self.update_remote(addr)
        self._heard = True
        if self.on_packet is not None:
            self.on_packet(data)
        if (data[1] & 0x7F) == self._dtmf_payload_type:
            self._key_started(data)
        super()._handle_rtp(data, addr)

    def _key_started(self, data: bytes) -> None:
        """The first packet of an RFC 4733 event (a new timestamp): the key is down now. aiortp
        reports the digit only at the event's end, which comes after the key is released."""
        try:
            packet = RtpPacket.parse(data)
        except ValueError:
            return
        if packet.timestamp == self._key_timestamp or len(packet.payload) < 4 \
                or packet.payload[0] not in EVENT_TO_DIGIT:
            return
        self._key_timestamp = packet.timestamp
        if self.on_key_down is not None:
            self.on_key_down()

    def _handle_rtcp(self, data: bytes, addr: tuple[str, int]) -> None:
        peer, port = self.accept_from
        if addr[0] != peer or addr[1] not in (port, port + 1) or len(data) < 8 or data[0] >> 6 != 2:
            self.dropped += 1
            return
        super()._handle_rtcp(data, addr)


class RtpLeg:
    """Caller audio out through `on_audio(Audio at 8 kHz)` / `on_dtmf(key)` (at the key's release)
    / `on_key_down()` (the moment a key is pressed); bot audio in by `play(Audio)` on the event
    loop, or `feed(Audio)` from any thread, sent one packet every 20 ms by aiortp's media clock
    however fast it is queued.

    `feed` is what a call's own 20 ms clock uses: the frame is encoded on the caller's thread and
    left in a deque the media clock's next tick moves to the paced sender. Handing each frame to
    the event loop instead (call_soon_threadsafe) woke the loop through its self-pipe 50 times a
    second per call, on top of the packets in and the pacer's own ticks."""

    def __init__(self, session: _StrictSession, payload_type: int) -> None:
        self._rtp, self.payload_type = session, payload_type
        self._encode = _ENCODE[payload_type]
        self._outbox: deque[bytes] = deque()  # encoded frames fed from another thread
        sender, clock = session._paced_sender, session._pacer_clock
        if sender is not None and clock is not None:
            tick = sender.tick

            def pace() -> None:
                while self._outbox:
                    sender.enqueue(self._outbox.popleft())
                tick()

            clock._on_tick = pace
        self.on_audio: Callable[[Audio], None] | None = None
        self.on_dtmf: Callable[[str], None] | None = None
        self.received = 0  # audio frames delivered (after reordering and concealment)
        session.on_audio = self._audio
        session.on_dtmf = self._dtmf
        session.on_key_down = self._key_down
        self.on_key_down: Callable[[], None] | None = None

    @classmethod
    async def open(cls, bind_ip: str, remote: tuple[str, int], payload_type: int, dtmf_pt: int,
                   signal_ip: str, ports: PortAllocator | None = None) -> RtpLeg:
        session = await _StrictSession.create(
            local_addr=(bind_ip, 0), port_allocator=ports, remote_addr=remote, payload_type=payload_type,
            dtmf_payload_type=dtmf_pt or 101, jitter_capacity=16, jitter_prefetch=3, plc=True,
            skip_audio_gaps=True,  # a gap is loss once 3 later frames are in: reordering within 60 ms waits
            paced=True, cn=True, cn_payload_type=CN_PT)
        session.accepted_types = frozenset({payload_type, CN_PT} | ({dtmf_pt} if dtmf_pt else set()))
        session.accept_from, session.signal_ip = remote, signal_ip
        return cls(session, payload_type)

    def connect(self, remote: tuple[str, int]) -> None:
        """The peer's media address once its SDP answer names it (an outgoing leg)."""
        self._rtp.accept_from = remote
        self._rtp.update_remote(remote)

    @property
    def local_port(self) -> int:
        return self._rtp._rtp_transport._transport.get_extra_info("sockname")[1]

    @property
    def queued_ms(self) -> int:
        """Bot audio waiting for its turn on the wire."""
        sender = self._rtp._paced_sender
        return (len(self._outbox) + (sender.queue_depth if sender else 0)) * 1000 * FRAME // RATE

    @property
    def dropped(self) -> int:
        return self._rtp.dropped

    def stats_line(self) -> str:
        stats = {**self._rtp.stats, "received": self.received}
        return ", ".join(f"{k} {stats[k]}" for k in ("received", "packets_lost", "concealed_frames",
                                                     "paced_sent") if k in stats)

    def play(self, audio: Audio) -> None:
        """Queue audio for the wire (on the event loop)."""
        for payload in self._payloads(audio):
            self._rtp.send_audio_auto(payload)

    def feed(self, audio: Audio) -> None:
        """Queue audio for the wire from any thread (a call's clock): sent from the next tick on."""
        self._outbox.extend(self._payloads(audio))

    def _payloads(self, audio: Audio) -> list[bytes]:
        pcm = audio.canonical(RATE).samples
        pad = (-len(pcm)) % FRAME
        if pad:
            pcm = np.concatenate([pcm, np.zeros(pad, np.int16)])
        return [self._encode(pcm[start:start + FRAME]) for start in range(0, len(pcm), FRAME)]

    def stop_playing(self) -> None:
        self._outbox.clear()
        if self._rtp._paced_sender is not None:
            self._rtp._paced_sender.discard()

    def _audio(self, pcm: bytes, _timestamp: int) -> None:
        self.received += 1
        if self.on_audio is not None:
            self.on_audio(Audio.from_bytes(pcm, RATE))

    def _key_down(self) -> None:
        if self.on_key_down is not None:
            self.on_key_down()

    def _dtmf(self, key: str, _duration: int) -> None:
        if self.on_dtmf is not None and key != "?":
            self.on_dtmf(key)

    async def close(self) -> None:
        await self._rtp.close()
