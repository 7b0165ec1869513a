"""CPU of one SIP call's audio path, load-independent: what a call's thread spends per second of call.

One call of scripts/bench_concurrency.py's script (greeting and menu, "I lost my card.", the
customer number, the PIN; Piper caller audio at 8 kHz through a μ-law round trip) is driven
through the SIP port of a Session (`SessionPort`, as a worker's call thread drives it) one 20 ms
frame at a time, not at real time: every tick pushes the caller's frame and reads, encodes and
paces the bot's frame (G.711 packets through an aiortp sender onto a loopback socket), as
`SipCall._tick` does. Between frames the script waits for the workers (decodes, flow, renders),
which are not counted: only the driving thread's CPU (`time.thread_time`) is, split by stage —
`push` (the Session's framing, resampling, VAD, barge-in detector, speculation), `read` (playout,
the 16→8 kHz filter), `send` (G.711 and the RTP packet onto the socket). The figure is CPU-ms per
second of call audio; it does not depend on the other jobs on the machine, so two checkouts can
be compared one after the other (`--root DIR` runs another checkout's code).

Usage: python scripts/bench_audio_path.py [--json] [--calls N] [--root DIR] [--profile]"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--calls", type=int, default=2, help="calls driven one after the other")
    parser.add_argument("--root", default=str(ROOT), help="the checkout whose voicebot is measured")
    parser.add_argument("--profile", action="store_true", help="print the driving thread's cProfile")
    args = parser.parse_args()
    sys.path.insert(0, args.root)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import cProfile
    import pstats

    import numpy as np

    from voicebot import speechgen
    from voicebot.audio import Audio, read_wav
    from voicebot.audio.g711 import ulaw_decode, ulaw_encode
    from voicebot.bench.latency import NOON
    from voicebot.cli.calls import DEFAULT_FLOW
    from voicebot.cli.serve import load_call_models
    from voicebot.evalcalls import fresh_store
    from voicebot.flow import CallEngine
    from voicebot.pipeline import Session
    from voicebot.transports.sip.adapter import SessionPort
    from voicebot.transports.sip.admission import shared_stack, warm
    from voicebot.transports.sip.sender import LineSender

    flow, stack = load_call_models(DEFAULT_FLOW, "whisper", "piper")
    stack, _ = shared_stack(stack)
    warm(stack)
    turns = []
    for text in ("I lost my card.", "one two three four five six seven eight", "two four six eight"):
        audio = read_wav(speechgen.speak(text)).canonical(8000)
        turns.append(ulaw_decode(ulaw_encode(audio.samples)).astype(np.int16))
    hop, quiet_ticks = 160, 60  # 20 ms at 8 kHz; the caller speaks after 1.2 s of bot silence
    silence = np.zeros(hop, np.int16)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setblocking(False)
    line = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    line.bind(("127.0.0.1", 0))
    cpu = {"push": 0.0, "read": 0.0, "send": 0.0}
    ticks = 0
    profile = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory(prefix="voicebot-audio-path-") as tmp:
        store = fresh_store(Path(tmp))
        for _ in range(args.calls):
            session = Session(CallEngine(flow, store, now=NOON), stack, keep_audio=False)
            port = SessionPort(session)
            sender = LineSender(line, 1234, 0, 101, 13, lambda: sink.getsockname())
            sender.threaded = True
            port.start()
            pending, speech, quiet = list(turns), None, 0
            while not port.done and ticks < 20000:
                session.settle()
                if speech is None and pending and quiet >= quiet_ticks:
                    speech, pending = pending.pop(0), pending
                frame = silence
                if speech is not None:
                    frame, speech = speech[:hop], speech[hop:] if len(speech) > hop else None
                    frame = np.pad(frame, (0, hop - len(frame)))
                if profile:
                    profile.enable()
                t0 = time.thread_time()
                port.caller(Audio(frame, 8000))
                t1 = time.thread_time()
                out = port.read(20)
                t2 = time.thread_time()
                if port.speaking:
                    sender.enqueue([ulaw_encode(out.samples)])
                sender.tick()
                t3 = time.thread_time()
                if profile:
                    profile.disable()
                cpu["push"] += t1 - t0
                cpu["read"] += t2 - t1
                cpu["send"] += t3 - t2
                quiet = 0 if port.speaking or speech is not None else quiet + 1
                ticks += 1
                try:
                    while sink.recv(2048):
                        pass
                except BlockingIOError:
                    pass
            port.hangup()
            session.settle()
    seconds = ticks * 0.02
    result = {"root": args.root, "calls": args.calls, "call_seconds": round(seconds, 1),
              "audio_cpu_ms_per_call_s": round(sum(cpu.values()) * 1000 / seconds, 2),
              "stages_cpu_ms_per_call_s": {k: round(v * 1000 / seconds, 2) for k, v in cpu.items()}}
    if profile:
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    print(json.dumps(result, indent=None if not args.json else 1))


if __name__ == "__main__":
    main()
