"""SDP offer/answer for one audio stream: G.711 μ-law or A-law, 20 ms, RFC 4733 events.

aiosipua negotiates; this module decides what we accept and turns every problem with an offer
into one `SdpRejected` (the INVITE is answered 488 Not Acceptable Here)."""

from __future__ import annotations

from dataclasses import dataclass

from aiosipua import SdpMessage, SdpNegotiationError, negotiate_sdp, parse_sdp

CODECS = (0, 8)  # PCMU, PCMA: what every PBX and trunk speaks
PTIME_MS = 20


class SdpRejected(Exception):
    """The offer cannot be answered (no audio, no address, no common codec)."""


@dataclass(frozen=True)
class Answer:
    sdp: SdpMessage
    payload_type: int  # 0 PCMU or 8 PCMA
    dtmf_payload_type: int  # 0 when the peer offered no telephone-event
    remote: tuple[str, int]


def parse_offer(text: str) -> SdpMessage:
    """Strict: the lines a usable offer must carry, each well-formed."""
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    if not lines or lines[0] != "v=0":
        raise SdpRejected("SDP must start with v=0")
    if any(len(line) < 2 or line[1] != "=" for line in lines):
        raise SdpRejected("SDP line is not type=value")
    try:
        offer = parse_sdp(text)
    except Exception as exc:  # the parser's own errors (ValueError, IndexError) on broken lines
        raise SdpRejected(f"unparsable SDP: {exc}") from None
    return offer


def answer(offer: SdpMessage, local_ip: str, rtp_port: int, advertised_ip: str | None = None) -> Answer:
    audio = offer.audio
    if audio is None:
        raise SdpRejected("offer has no audio stream")
    remote = offer.rtp_address
    if remote is None or not 0 < remote[1] < 65536:
        raise SdpRejected("offer has no usable connection address or port")
    events = [c.payload_type for c in audio.codecs if (c.encoding_name or "").lower() == "telephone-event"]
    dtmf_pt = events[0] if events else 0
    try:
        sdp, pt = negotiate_sdp(offer, local_ip=local_ip, rtp_port=rtp_port, supported_codecs=list(CODECS),
                                dtmf_payload_type=dtmf_pt, ptime=PTIME_MS, session_name="voicebot",
                                advertised_ip=advertised_ip)
    except SdpNegotiationError as exc:
        raise SdpRejected(str(exc)) from None
    # We always packetise at 20 ms, whatever the offer's ptime: say so in the answer.
    sdp.media[[m.media for m in sdp.media].index("audio")].attributes["ptime"] = [str(PTIME_MS)]
    return Answer(sdp, pt, dtmf_pt, remote)
