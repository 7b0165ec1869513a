"""What reaches the SIP stack at all. aiosipua parses leniently; a worker on a public port must
not, so datagrams are checked first: a SIP start line, a bounded header section, a declared body
length that matches. Anything else is dropped (and counted) before it can cost a call."""

from __future__ import annotations

import asyncio
import logging
import re

from aiosipua import UdpSipTransport
from aiosipua.transport import _UdpProtocol

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 8192  # well above any real INVITE; a flood of headers is an attack or a bug
_REQUEST = re.compile(rb"^[A-Z]{3,16} sips?:\S+ SIP/2\.0$|^[A-Z]{3,16} tel:\S+ SIP/2\.0$")
_RESPONSE = re.compile(rb"^SIP/2\.0 [1-6][0-9]{2} [^\r\n]*$")
_KEEPALIVE = (b"\r\n\r\n", b"\r\n")  # RFC 5626 keep-alives: silently fine


def problem(data: bytes) -> str | None:
    """Why a datagram is not a SIP message we take, or None."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return "no end of headers"
    if len(head) > MAX_HEADER_BYTES:
        return f"header section of {len(head)} bytes"
    lines = head.split(b"\r\n")
    if not (_REQUEST.match(lines[0]) or _RESPONSE.match(lines[0])):
        return "not a SIP start line"
    if any(b":" not in line and not line[:1].isspace() for line in lines[1:]):
        return "header line without a colon"
    length = [line.split(b":", 1)[1].strip() for line in lines[1:]
              if line.split(b":", 1)[0].strip().lower() in (b"content-length", b"l")]
    if length and (not length[0].isdigit() or int(length[0]) > len(body)):
        return "body shorter than its Content-Length"
    return None


class _Protocol(_UdpProtocol):
    def connection_made(self, transport) -> None:
        # aiosipua asserts a DatagramTransport, which CPython 3.11's selector transport is not.
        self._owner._udp_transport = transport


class StrictUdpTransport(UdpSipTransport):
    dropped = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._udp_transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self),
                                                                     local_addr=self.local_addr)
        self.local_addr = self._udp_transport.get_extra_info("sockname")[:2]  # port 0 → the real one

    def _dispatch(self, data: bytes, addr: tuple[str, int]) -> None:
        if data in _KEEPALIVE:
            return
        why = problem(data)
        if why:
            self.dropped += 1
            log.warning("dropped a datagram from %s:%s: %s", addr[0], addr[1], why)
            return
        super()._dispatch(data, addr)
