"""The SIP worker's own pieces, each on real inputs: caller ID from headers, SDP answers, DTMF
from INFO bodies and single keys, the datagram gate, and the RTP leg's jitter buffer fed
reordered and lost packets over a real socket."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import numpy as np
import pytest
from aiosipua import SipMessage

from voicebot.audio import Audio
from voicebot.audio.g711 import ulaw_encode
from voicebot.store.protocols import CALLER_ID_LENGTH
from voicebot.transports.sip.caller_id import caller_id
from voicebot.transports.sip.dtmf import DigitCollector, info_digit
from voicebot.transports.sip.messages import problem
from voicebot.transports.sip.rtp import RtpLeg
from voicebot.transports.sip.sdp import SdpRejected, answer, parse_offer

OFFER = ("v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
         "m=audio 4000 RTP/AVP 8 0 96\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
         "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\na=ptime:30\r\na=sendrecv\r\n")


def _invite(*headers: str) -> object:
    head = "\r\n".join(["INVITE sip:bot@127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKx",
                        "Call-ID: abc", "CSeq: 1 INVITE", "To: <sip:bot@127.0.0.1>", *headers,
                        "Content-Length: 0"])
    return SipMessage.parse((head + "\r\n\r\n").encode())


def test_caller_id_prefers_the_asserted_identity():
    assert caller_id(_invite('From: "Anon" <sip:anonymous@x>;tag=1',
                             "P-Asserted-Identity: <sip:+15551230002@trunk>, <tel:+15551230002>")) == "+15551230002"
    assert caller_id(_invite("From: <sip:+1 (555) 123-0001@pbx>;tag=1")) == "+15551230001"
    assert caller_id(_invite("From: <sip:alice@pbx>;tag=1")) == "alice"
    assert caller_id(_invite("P-Asserted-Identity: <tel:+15551230001>", "From: <sip:x@y>;tag=1")) == "+15551230001"
    # a user name wider than the record's column (PostgreSQL had refused the call's record) is cut
    long_user = "support-line-north-west-region-overflow"
    assert caller_id(_invite(f"From: <sip:{long_user}@pbx>;tag=1")) == long_user[:CALLER_ID_LENGTH]


def test_sdp_answer_follows_the_offer():
    got = answer(parse_offer(OFFER), "127.0.0.1", 20000)
    assert (got.payload_type, got.dtmf_payload_type, got.remote) == (8, 96, ("10.0.0.9", 4000))
    text = str(got.sdp) if not hasattr(got.sdp, "media") else got.sdp.media[0].attributes
    assert text["ptime"] == ["20"] and any("telephone-event" in r for r in text["rtpmap"])
    with pytest.raises(SdpRejected):
        answer(parse_offer(OFFER.replace("8 0 96", "9 96").replace("a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n",
                                                                 "a=rtpmap:9 G722/8000\r\n")), "127.0.0.1", 20000)
    for bad in ("", "x=1\r\n", "v=0\r\nbroken line\r\n"):
        with pytest.raises(SdpRejected):
            parse_offer(bad)


def test_dtmf_from_info_and_single_keys():
    assert info_digit("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n") == "5"
    assert info_digit("application/dtmf-relay", "Signal= 11\r\n") == "#"
    assert info_digit("application/dtmf", "*") == "*"
    assert info_digit("application/dtmf-relay", "Signal=Z") is None
    assert info_digit("text/plain", "5") is None
    keys = DigitCollector()
    assert keys.key("3", 0.0, "intent", None) == "3"  # a menu choice is one key
    assert [keys.key(k, 0.1 * i, "digits", 4) for i, k in enumerate("2468")] == [None, None, None, "2468"]
    assert keys.key("1", 1.0, "digits", None) is None and keys.key("2", 1.2, "digits", None) is None
    assert keys.timeout(2.0) is None and keys.timeout(4.3) == "12"
    assert keys.key("9", 5.0, "digits", 8) is None and keys.key("#", 5.1, "digits", 8) == "9"


def test_datagram_gate():
    good = b"OPTIONS sip:bot@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n"
    assert problem(good) is None
    assert problem(b"\x16\x03\x01garbage") is not None
    assert problem(good.replace(b"Content-Length: 0", b"Content-Length: 9")) is not None
    assert problem(good.replace(b"\r\n\r\n", b"\r\nX: " + b"y" * 9000 + b"\r\n\r\n")) is not None


def _rtp(seq: int, pcm: np.ndarray, pt: int = 0, ssrc: int = 0x1234) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, seq * 160, ssrc) + ulaw_encode(pcm)


def test_rtp_leg_reorders_conceals_loss_and_ignores_strangers():
    async def run() -> tuple[list[float], int]:
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        leg = await RtpLeg.open("127.0.0.1", peer.getsockname(), 0, 101, signal_ip="127.0.0.1")
        frames: list[Audio] = []
        leg.on_audio = frames.append
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # 20 packets, each a constant level equal to its sequence number; 5 and 6 swap, 12 is lost.
        order = [s for s in range(20) if s != 12]
        order[5], order[6] = order[6], order[5]
        for seq in order:
            peer.sendto(_rtp(seq, np.full(160, 500 * (seq + 1), np.int16)), ("127.0.0.1", leg.local_port))
            stranger.sendto(_rtp(seq, np.full(160, -9000, np.int16), ssrc=99), ("127.0.0.1", leg.local_port))
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.3)
        await leg.close()
        peer.close()
        stranger.close()
        return [float(np.median(f.samples)) for f in frames], leg.dropped

    levels, dropped = asyncio.run(run())
    assert dropped == 19  # the stranger's packets never reach the call
    assert all(level > 0 for level in levels)
    assert levels[:12] == sorted(levels[:12])  # reordered packets come out in order
    # 19 packets + 1 concealed frame for the lost one, nothing held back at the end (no prefetch)
    assert len(levels) == 20 and levels[13:] == sorted(levels[13:]) and levels[13] > levels[11]
    assert levels[12] < levels[11]  # packet 12 never came: concealment fades the last frame out


def test_reorder_lets_in_order_packets_through_at_once_and_waits_only_on_a_gap():
    from voicebot.transports.sip.reorder import MIN_WAIT_S, Reorder

    r, t = Reorder(), 100.0
    for seq in range(65530, 65536):  # in order (across the 16-bit wrap below): each out as it comes
        assert [f.payload for f in r.push(seq, bytes([seq & 0xFF]), t)] == [bytes([seq & 0xFF])]
        t += 0.02
    assert [f.payload for f in r.push(0, b"\x00", t)] == [b"\x00"] and not r.waiting
    assert r.push(2, b"\x02", t + 0.02) == [] and r.waiting  # 1 is missing: 2 waits
    out = r.push(1, b"\x01", t + 0.03)  # 1 came 10 ms late: both go, the wait grows to cover that
    assert [f.payload for f in out] == [b"\x01", b"\x02"] and r.reordered == 1
    assert r.wait_s >= 1.5 * 0.01 + 0.01 - 1e-9 and not r.waiting
    wait = r.wait_s
    assert r.push(4, b"\x04", t + 0.1) == [] and r.expire(t + 0.1 + wait / 2) == []  # 3 lost? not yet
    out = r.expire(t + 0.1 + wait + 0.001)
    assert [(f.payload, f.lost) for f in out] == [(b"\x04", 1)] and r.lost == 1
    assert r.push(3, b"\x03", t + 0.2) == [] and r.late == 1 and r.wait_s > wait  # too late: waits longer
    # an RFC 4733 event takes sequence number 5: it is no loss, 6 goes out at once
    assert r.skip(5, t + 0.21) == [] and [(f.payload, f.lost) for f in r.push(6, b"\x06", t + 0.22)] == [(b"\x06", 0)]
    for k in range(7, 20000):  # a clean line: the wait decays back
        r.push(k & 0xFFFF, b"x", t)
    assert r.wait_s < MIN_WAIT_S + 0.001 and r.lost == 1


def _event(seq: int, timestamp: int, key: int, end: bool, duration: int) -> bytes:
    """An RFC 4733 telephone-event packet (payload type 101)."""
    return struct.pack("!BBHII", 0x80, 101, seq, timestamp, 0x1234) + \
        struct.pack("!BBH", key, (0x80 if end else 0) | 10, duration)


def test_rtp_leg_reports_a_key_down_at_its_first_event_packet_and_the_key_at_its_end():
    async def run() -> list[str]:
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        leg = await RtpLeg.open("127.0.0.1", peer.getsockname(), 0, 101, signal_ip="127.0.0.1")
        seen: list[str] = []
        leg.on_key_down = lambda: seen.append("down")
        leg.on_dtmf = lambda key: seen.append(key)
        packets = [_event(1, 800, 5, False, 160), _event(2, 800, 5, False, 320), _event(3, 800, 5, False, 480)]
        packets += [_event(4, 800, 5, True, 640)] * 3 + [_event(7, 2400, 11, False, 160), _event(8, 2400, 11, True, 320)]
        for packet in packets:
            peer.sendto(packet, ("127.0.0.1", leg.local_port))
            await asyncio.sleep(0.01)
            if packet is packets[0]:
                await asyncio.sleep(0.05)
                seen.append("|")  # what had arrived after the first packet alone
        await asyncio.sleep(0.1)
        await leg.close()
        peer.close()
        return seen

    assert asyncio.run(run()) == ["down", "|", "5", "down", "#"]  # one key down per key, at once


def test_line_rate_gives_20_ms_per_tick_without_gaps_and_keeps_speech_band():
    from voicebot.transports.sip.adapter import LineRate

    t = np.arange(16000) / 16000
    for hz, kept in ((1000, True), (3000, True), (6000, False)):
        tone = (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
        chunked_rate, whole_rate = LineRate(16000), LineRate(16000)
        ticks = [chunked_rate(tone[i:i + 320]) for i in range(0, 16000, 320)]
        assert {len(tick) for tick in ticks} == {160}  # one packet per 20 ms tick, always
        line = np.concatenate(ticks)
        assert np.array_equal(line, whole_rate(tone))  # the filter's state carries across ticks: no seams
        level = np.sqrt(np.mean(line[200:].astype(float) ** 2)) / (8000 / np.sqrt(2))
        assert (level > 0.9) if kept else (level < 0.01), (hz, level)


def test_rtp_leg_sends_frames_fed_from_another_thread_in_order_one_per_tick():
    """A call's clock thread feeds frames without touching the event loop; the media clock sends
    them in order, one packet per 20 ms (counted on the RTP timestamps, not the wall clock), and
    `stop_playing` drops what is still waiting."""
    import threading

    async def run() -> tuple[list[tuple[int, int]], int, int]:
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        peer.setblocking(False)
        leg = await RtpLeg.open("127.0.0.1", peer.getsockname(), 0, 101, signal_ip="127.0.0.1")
        frames = [Audio(np.full(160, 600 * (k + 1), np.int16), 8000) for k in range(8)]
        feeder = threading.Thread(target=lambda: [leg.feed(f) for f in frames])
        feeder.start()
        feeder.join()
        queued = leg.queued_ms
        got: list[tuple[int, int]] = []
        loop = asyncio.get_running_loop()
        while len(got) < len(frames):
            data = await asyncio.wait_for(loop.sock_recv(peer, 2048), 5)
            if data[1] & 0x7F == 0:
                got.append((struct.unpack("!I", data[4:8])[0], data[12]))
        leg.feed(Audio(np.full(1600, 3000, np.int16), 8000))  # ten more frames, then the caller barges in
        leg.stop_playing()
        left = leg.queued_ms
        await leg.close()
        peer.close()
        return got, queued, left

    got, queued, left = asyncio.run(run())
    assert queued == 8 * 20 and left == 0
    stamps = [ts for ts, _ in got]
    assert [b - a for a, b in zip(stamps, stamps[1:])] == [160] * 7  # one 20 ms packet after another
    expected = [ulaw_encode(np.full(160, 600 * (k + 1), np.int16))[0] for k in range(8)]
    assert [first for _, first in got] == expected  # in the order fed


def test_a_call_recording_that_is_not_kept_holds_no_audio():
    from voicebot.pipeline.recording import CallRecording

    kept, dropped = CallRecording(16000), CallRecording(16000, keep=False)
    frame = Audio(np.full(320, 1000, np.int16), 16000)
    for _ in range(50):
        for recording in (kept, dropped):
            recording.caller(frame)
            recording.bot(frame)
    assert kept.duration == pytest.approx(1.0) and kept.stereo().num_samples == 16000
    assert dropped.duration == 0 and dropped.stereo().num_samples == 0


def test_a_cached_prompt_is_served_while_another_call_renders(tmp_path):
    """Calls share one synthesizer under a lock; a sentence already in memory must not wait for it
    (the lock is held here the whole time, as a long render of another call's sentence would)."""
    import threading

    from voicebot.pipeline.prompts import PromptCache
    from voicebot.transports.sip.admission import GuardedPrompts, UrgentLock

    cache = PromptCache("pyttsx3", rate=8000, directory=tmp_path)
    cache.warm(["Please say your PIN."])
    lock = UrgentLock()  # the worker's
    prompts = GuardedPrompts(cache, lock)
    out: list[Audio] = []
    with lock:  # another call's render
        reader = threading.Thread(target=lambda: out.extend(prompts.stream("Please say your PIN.")))
        reader.start()
        reader.join(60)
        served_during_render = not reader.is_alive()
    reader.join()
    assert served_during_render and out and out[0].num_samples > 0
    fresh = list(prompts.stream("Your balance is four dollars."))  # not cached: rendered under the lock
    assert fresh and fresh[0].num_samples > 0 and cache.cached("Your balance is four dollars.") is None


def test_renders_wait_their_turn_by_when_their_audio_is_due():
    """The synthesizer's lock lets the most urgent waiter in next (a caller waiting in silence
    before a sentence that plays later), first come among equals, whatever order threads wake in."""
    import threading

    from voicebot.transports.sip.admission import UrgentLock

    lock, order = UrgentLock(), []
    due = {"later-sentence": 105.0, "first-a": 100.0, "first-b": 100.5, "plain": None}

    def take(name: str) -> None:
        with lock.hold(due[name]):
            order.append(name)

    with lock:  # a render in progress
        threads = []
        for name in ("later-sentence", "first-b", "first-a"):
            threads.append(threading.Thread(target=take, args=(name,)))
            threads[-1].start()
            time.sleep(0.05)
        threads.append(threading.Thread(target=take, args=("plain",)))  # due now: after the past deadlines
        threads[-1].start()
        time.sleep(0.2)
    for t in threads:
        t.join(10)
    assert order == ["first-a", "first-b", "later-sentence", "plain"]


def test_new_calls_are_refused_while_answers_queue_for_the_synthesizer(tmp_path):
    """Personal sentences render one at a time: with `max_render_queue` calls waiting for the
    synthesizer, a new call would hear its answers late, so it gets 503 until the queue drains."""
    import threading

    from voicebot.pipeline.prompts import PromptCache
    from voicebot.transports.sip.admission import Admission, GuardedPrompts, Limits, UrgentLock

    cache = PromptCache("pyttsx3", rate=8000, directory=tmp_path)
    lock = UrgentLock()
    prompts = GuardedPrompts(cache, lock)
    admission = Admission(Limits(max_calls=50, max_decode_queue=50, max_render_queue=2), None, prompts)
    assert admission.refuse(1) is None
    with lock:  # a long render of another call's sentence
        waiting = [threading.Thread(target=lambda k=k: list(prompts.stream(f"Your balance is {k} dollars.")))
                   for k in (3, 4)]
        for t in waiting:
            t.start()
        deadline = time.monotonic() + 30
        while prompts.waiting < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        refusal = admission.refuse(1)
    for t in waiting:
        t.join()
    assert refusal is not None and "synthesizer" in refusal
    assert prompts.waiting == 0 and admission.refuse(1) is None


def test_a_long_prompt_leaves_the_worker_no_bigger():
    """Piper's onnxruntime arena used to keep the activations of the longest sentence ever
    rendered (+180 MB for this one, for the life of the worker); it gives them back now."""
    from voicebot.pipeline.workers import tune_malloc
    from voicebot.tts.piper import PiperSynthesizer

    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    tune_malloc()  # as a worker runs
    voice = PiperSynthesizer()
    voice.synthesize("Hello.")
    before = rss_mb()
    audio = voice.synthesize("I can't find an unblocked debit card ending in four five six seven on your "
                             "account, so I haven't blocked anything at all today.")
    assert audio.duration > 4
    assert rss_mb() - before < 60
