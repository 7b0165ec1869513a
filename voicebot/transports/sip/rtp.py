"""One RTP leg: G.711 at 20 ms both ways. aiortp binds the ports, answers RTCP, parses packets and
RFC 4733 events; caller audio is put in order by reorder.Reorder (no fixed prefetch: a frame in
order goes to the call at once) and bot audio goes out through sender.LineSender (ticked by the
call's own thread).

What this adds is strictness about what comes in: only RTP version 2 from the peer's address
with a negotiated payload type is looked at, so stray or random datagrams sent to the port change
nothing (aiortp alone would decode them as audio or reset the stream)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import numpy as np
from aiortp import PcmConcealer, RTPSession
from aiortp.dtmf import EVENT_TO_DIGIT
from aiortp.packet import RtpPacket
from aiortp.port_allocator import PortAllocator

from voicebot.audio import Audio
from voicebot.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voicebot.transports.sip.reorder import Frame, Reorder
from voicebot.transports.sip.sender import LineSender

log = logging.getLogger(__name__)

RATE = 8000
FRAME = RATE * 20 // 1000  # samples per 20 ms packet
CN_PT = 13  # RFC 3389 comfort noise: accepted, never decoded as speech
_ENCODE = {0: ulaw_encode, 8: alaw_encode}
_DECODE = {0: ulaw_decode, 8: alaw_decode}


class _StrictSession(RTPSession):
    """aiortp's session behind a gate: the peer's address, RTP v2, negotiated payload types. Audio
    packets skip aiortp's jitter buffer (BaseRTPSession's subclass hooks keep its statistics and
    RTCP reports right); events and comfort noise go through aiortp as before."""

    accept_from: tuple[str, int] = ("", 0)  # the SDP's address
    signal_ip = ""  # where the INVITE came from
    accepted_types: frozenset[int] = frozenset()
    dropped = 0
    _heard = False
    on_key_down: Callable[[], None] | None = None
    on_packet: Callable[[bytes], None] | None = None  # every accepted packet as it arrives (a benchmark's probe)
    on_frames: Callable[[list[Frame]], None] | None = None  # caller audio put in order
    on_silence: Callable[[], None] | None = None  # comfort noise: the caller's phone went quiet
    _key_timestamp: int | None = None
    _timer: asyncio.TimerHandle | None = None
    reorder: Reorder

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
        try:
            packet = RtpPacket.parse(data)
        except ValueError:
            self.dropped += 1
            return
        if packet.ssrc != self._remote_ssrc:
            self.reorder.reset()
        if packet.payload_type != self._payload_type:  # an event or comfort noise: aiortp's
            if packet.payload_type == self._dtmf_payload_type:
                self._key_started(packet)
            elif self.on_silence is not None:
                self.on_silence()
            super()._handle_rtp(data, addr)
            self._deliver(self.reorder.skip(packet.sequence_number, time.monotonic()))
            return
        if packet.ssrc != self._remote_ssrc:
            self._remote_ssrc_changed(packet.ssrc)
        self._stream_stats.add(packet)
        self._deliver(self.reorder.push(packet.sequence_number, packet.payload, time.monotonic()))

    def _deliver(self, frames: list[Frame]) -> None:
        if frames and self.on_frames is not None:
            self.on_frames(frames)
        if self.reorder.waiting and self._timer is None and self._loop is not None:
            # a gap: its wait ends on time even if nothing else comes (a phone gone quiet)
            self._timer = self._loop.call_later(max(0.0, self.reorder.deadline - time.monotonic()), self._expire)

    def _expire(self) -> None:
        self._timer = None
        self._deliver(self.reorder.expire(time.monotonic()))

    @property
    def jitter_ms(self) -> float:
        """RFC 3550's interarrival jitter of the caller's audio so far."""
        return self._stream_stats.jitter * 1000 / 8000 if self._stream_stats is not None else 0.0

    def _key_started(self, packet: RtpPacket) -> None:
        """The first packet of an RFC 4733 event (a new timestamp): the key is down now. aiortp
        reports the digit only at the event's end, which comes after the key is released."""
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
    """Caller audio out through `on_audio(Audio at 8 kHz)` (in order, as soon as it is in order;
    lost packets concealed) / `on_dtmf(key)` (at the key's release) / `on_key_down()` (the moment
    a key is pressed) / `on_silence()` (comfort noise); bot audio in by `play(Audio)` or
    `feed(Audio)` from any thread, sent one packet per 20 ms tick.

    The ticks come from the event loop until the media thread takes them (`thread_clock`, then
    `tick()` every 20 ms from that thread, right after feeding the frame it read), and from the
    loop again after `loop_clock()` (a queued caller, a transfer)."""

    def __init__(self, session: _StrictSession, payload_type: int, dtmf_pt: int) -> None:
        self._rtp, self.payload_type = session, payload_type
        self._encode, self._decode = _ENCODE[payload_type], _DECODE[payload_type]
        self._concealer = PcmConcealer(sample_rate=RATE)
        sock = session._rtp_transport._transport.get_extra_info("socket")
        self.sender = LineSender(sock, session.stats["ssrc"], payload_type, dtmf_pt, CN_PT,
                                 lambda: session._remote_addr)
        self.sender.loop_clock()
        self.on_audio: Callable[[Audio], None] | None = None
        self.on_dtmf: Callable[[str], None] | None = None
        self.on_key_down: Callable[[], None] | None = None
        self.on_silence: Callable[[], None] | None = None
        self.received = 0  # audio frames delivered (after reordering and concealment)
        self.concealed = 0
        session.on_frames = self._frames
        session.on_dtmf = self._dtmf
        session.on_key_down = self._key_down
        session.on_silence = self._silence

    @classmethod
    async def open(cls, bind_ip: str, remote: tuple[str, int], payload_type: int, dtmf_pt: int,
                   signal_ip: str, ports: PortAllocator | None = None) -> RtpLeg:
        session = await _StrictSession.create(
            local_addr=(bind_ip, 0), port_allocator=ports, remote_addr=remote, payload_type=payload_type,
            dtmf_payload_type=dtmf_pt or 101, plc=False, cn_payload_type=CN_PT)
        session.reorder = Reorder()
        session.accepted_types = frozenset({payload_type, CN_PT} | ({dtmf_pt} if dtmf_pt else set()))
        session.accept_from, session.signal_ip = remote, signal_ip
        return cls(session, payload_type, dtmf_pt)

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
        return self.sender.queued * 1000 * FRAME // RATE

    @property
    def dropped(self) -> int:
        return self._rtp.dropped

    @property
    def reorder(self) -> Reorder:
        return self._rtp.reorder

    @property
    def jitter_ms(self) -> float:
        return self._rtp.jitter_ms

    def stats_line(self) -> str:
        stats = {**self._rtp.stats, "received": self.received, "concealed": self.concealed,
                 "late": self.reorder.late, "sent": self.sender.sent,
                 "wait_ms": round(self.reorder.wait_s * 1000)}
        return ", ".join(f"{k} {stats[k]}" for k in ("received", "packets_lost", "concealed", "late",
                                                     "wait_ms", "sent") if k in stats)

    def play(self, audio: Audio) -> None:
        """Queue audio for the wire (from any thread)."""
        self.sender.enqueue(self._payloads(audio))

    feed = play  # the media thread feeds the frame it has just read

    def tick(self) -> None:
        """The thread that took the clock: send this tick's frame now."""
        self.sender.tick()

    def thread_clock(self) -> None:
        self.sender.thread_clock()

    def loop_clock(self) -> None:
        self.sender.loop_clock()

    def send_dtmf(self, key: str) -> None:
        self.sender.dtmf(key)

    def _payloads(self, audio: Audio) -> list[bytes]:
        pcm = audio.canonical(RATE).samples
        pad = (-len(pcm)) % FRAME
        if pad:
            pcm = np.concatenate([pcm, np.zeros(pad, np.int16)])
        return [self._encode(pcm[start:start + FRAME]) for start in range(0, len(pcm), FRAME)]

    def stop_playing(self) -> None:
        """Drop the bot audio not yet sent (from any thread)."""
        self.sender.discard()

    def _frames(self, frames: list[Frame]) -> None:
        for frame in frames:
            if frame.lost:
                pcm = self._concealer.conceal(frame.lost * FRAME) if self._concealer.frame_samples else \
                    bytes(2 * frame.lost * FRAME)
                self.concealed += frame.lost
                self._emit(np.frombuffer(pcm, np.int16))
            if frame.payload:
                samples = self._decode(frame.payload)
                self._concealer.update(samples.tobytes())
                self._emit(samples)

    def _emit(self, samples: np.ndarray) -> None:
        self.received += 1
        if self.on_audio is not None:
            self.on_audio(Audio(samples, RATE))

    def _key_down(self) -> None:
        if self.on_key_down is not None:
            self.on_key_down()

    def _silence(self) -> None:
        if self.on_silence is not None:
            self.on_silence()

    def _dtmf(self, key: str, _duration: int) -> None:
        if self.on_dtmf is not None and key != "?":
            self.on_dtmf(key)

    async def close(self) -> None:
        if self._rtp._timer is not None:
            self._rtp._timer.cancel()
        await self.sender.close()
        await self._rtp.close()
