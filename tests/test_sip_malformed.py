"""What a worker does with bad input from the network (no models needed: nothing here may
become a call): garbage and oversized datagrams are dropped, bad SDP and unknown codecs get
488, a saturated worker answers 503 with Retry-After; the worker keeps serving throughout."""

from __future__ import annotations

import socket
import uuid

import pytest

from sip_peers import Worker
from voicebot.flow import load_flow
from voicebot.pipeline import Stack
from voicebot.store import open_store
from voicebot.transports.sip import ServeConfig, SipServer
from voicebot.transports.sip.admission import Limits

SDP_OK = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
          "m=audio {port} RTP/AVP {fmts}\r\n{rtpmap}a=sendrecv\r\n")


def _worker(tmp_path, limits=Limits()):
    stack = Stack(recognizer=None, nlu=None, prompts=None)  # every request here fails before a Session
    server = SipServer(ServeConfig("127.0.0.1", 0, limits=limits), stack, load_flow("flows/bank.yml"),
                       open_store(str(tmp_path / "calls.db")))
    return Worker(server)


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    w = _worker(tmp_path_factory.mktemp("malformed"))
    yield w
    w.close()


def _request(method: str, port: int, body: str = "", extra: str = "", content_type: str = "application/sdp") -> bytes:
    branch, tag, call_id = uuid.uuid4().hex[:12], uuid.uuid4().hex[:8], uuid.uuid4().hex
    headers = (f"{method} sip:bot@127.0.0.1:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{{me}};branch=z9hG4bK{branch}\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:+15551230001@127.0.0.1>;tag={tag}\r\n"
               f"To: <sip:bot@127.0.0.1:{port}>\r\nCall-ID: {call_id}\r\nCSeq: 1 {method}\r\n"
               f"Contact: <sip:caller@127.0.0.1:{{me}}>\r\n{extra}")
    if body:
        headers += f"Content-Type: {content_type}\r\n"
    return (headers + f"Content-Length: {len(body.encode())}\r\n\r\n" + body).encode()


def _ask(port: int, message: bytes, wait: float = 1.5) -> list[str]:
    """Send one datagram from a fresh socket; the final responses that come back (status lines)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(wait)
        s.sendto(message.replace(b"{me}", str(s.getsockname()[1]).encode()), ("127.0.0.1", port))
        out = []
        try:
            while True:
                data, _ = s.recvfrom(65536)
                status = data.split(b"\r\n", 1)[0].decode()
                if " 100 " not in status:
                    out.append(data.decode(errors="replace"))
                    if not status.startswith("SIP/2.0 1"):
                        return out
        except TimeoutError:
            return out


def _status(responses: list[str]) -> str:
    return responses[-1].split("\r\n", 1)[0] if responses else "(no answer)"


def test_garbage_and_oversized_datagrams_are_dropped_and_the_worker_keeps_serving(worker):
    port = worker.port
    for junk in (b"\x00\xff" * 300, b"hello", b"INVITE nonsense\r\n\r\n", b"SIP/2.0 banana\r\n\r\n",
                 _request("OPTIONS", port, extra="X-Big: " + "a" * 20000 + "\r\n"),
                 _request("OPTIONS", port).replace(b"Content-Length: 0", b"Content-Length: 500"),
                 _request("OPTIONS", port).replace(b"Max-Forwards: 70\r\n", b"Max-Forwards 70\r\n")):
        assert _ask(port, junk, wait=0.4) == [], junk[:60]
    assert worker.server.transport.dropped >= 7
    assert _status(_ask(port, _request("OPTIONS", port))) == "SIP/2.0 200 OK"


@pytest.mark.parametrize("sdp", [
    "this is not sdp",
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",  # no media at all
    SDP_OK.format(port=40000, fmts="0", rtpmap="").replace("c=IN IP4 127.0.0.1\r\n", ""),  # no address
    SDP_OK.format(port=40000, fmts="9 96", rtpmap="a=rtpmap:9 G722/8000\r\na=rtpmap:96 opus/48000/2\r\n"),
    "v=0\r\nm=audio banana RTP/AVP 0\r\n",
])
def test_bad_sdp_and_unknown_codecs_get_488(worker, sdp):
    responses = _ask(worker.port, _request("INVITE", worker.port, sdp))
    assert _status(responses).startswith("SIP/2.0 488"), responses
    assert not worker.server.calls


def test_invite_without_offer_and_unknown_method_get_errors(worker):
    assert _status(_ask(worker.port, _request("INVITE", worker.port))).startswith("SIP/2.0 488")
    assert _status(_ask(worker.port, _request("MESSAGE", worker.port, "hi", content_type="text/plain"))) \
        .startswith("SIP/2.0 405")
    assert _status(_ask(worker.port, _request("BYE", worker.port))).startswith("SIP/2.0 481")


def test_saturated_worker_answers_503_with_retry_after(tmp_path):
    full = _worker(tmp_path, Limits(max_calls=0, retry_after_s=7))
    try:
        sdp = SDP_OK.format(port=40000, fmts="0 101", rtpmap="a=rtpmap:101 telephone-event/8000\r\n")
        for method, body in (("INVITE", sdp), ("OPTIONS", "")):
            responses = _ask(full.port, _request(method, full.port, body))
            assert _status(responses) == "SIP/2.0 503 Service Unavailable", responses
            assert "Retry-After: 7" in responses[-1]
    finally:
        full.close()
