"""`voicebot serve`: a long-running worker answering calls. Each front end (today `--sip`) is
one coroutine started next to the others on one event loop, sharing one Stack and one store."""

from __future__ import annotations

import asyncio
import logging
import signal

from typing import Annotated, Any, Optional

import typer

from voicebot.cli.app import app, err_console
from voicebot.cli.calls import DEFAULT_FLOW, DbOpt, FlowOpt
from voicebot.errors import VoicebotError

log = logging.getLogger(__name__)


def parse_hostport(value: str, option: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise VoicebotError(f"{option} {value!r}: expected HOST:PORT, e.g. 0.0.0.0:5060")
    return host.strip("[]"), int(port)


@app.command()
def serve(
    sip: Annotated[Optional[str], typer.Option("--sip", help="answer SIP calls on HOST:PORT (UDP)")] = None,
    flow: FlowOpt = DEFAULT_FLOW,
    db: DbOpt = None,
    advertise: Annotated[Optional[str], typer.Option("--advertise", help="IP peers reach this worker at (NAT)")] = None,
    rtp_ports: Annotated[str, typer.Option("--rtp-ports", help="RTP port range LOW-HIGH")] = "20000-40000",
    max_calls: Annotated[int, typer.Option("--max-calls", help="calls held at once; more get 503")] = 12,
    max_decode_queue: Annotated[int, typer.Option("--max-decode-queue",
                                                  help="turns waiting for the recogniser before new calls get 503")] = 4,
    announce: Annotated[float, typer.Option("--queue-announce", help="seconds between a queued caller's "
                                                                     "position announcements (30-60)")] = 45.0,
    backend: Annotated[str, typer.Option("--backend", help="ASR backend")] = "whisper",
    tts: Annotated[str, typer.Option("--tts", help="TTS backend")] = "piper",
) -> None:
    """Run a worker: answer phone calls over SIP until stopped (Ctrl-C / SIGTERM)."""
    if sip is None:
        raise VoicebotError("serve: nothing to serve; give --sip HOST:PORT")
    host, port = parse_hostport(sip, "--sip")
    low, _, high = rtp_ports.partition("-")
    if not (low.isdigit() and high.isdigit() and 1024 <= int(low) < int(high) < 65536):
        raise VoicebotError(f"--rtp-ports {rtp_ports!r}: expected LOW-HIGH, e.g. 20000-40000")
    from voicebot.flow import load_flow
    from voicebot.pipeline import Stack
    from voicebot.pipeline.prompts import fixed_prompts
    from voicebot.store import open_store
    from voicebot.transports.sip import ServeConfig, SipServer
    from voicebot.transports.sip.admission import Limits

    call_flow = load_flow(flow)  # a broken flow fails before any model loads
    store = open_store(db)
    stack = Stack.load(asr=backend, tts=tts)
    if stack.prompts is not None:
        stack.prompts.warm(fixed_prompts(call_flow))
    if not 30 <= announce <= 60:
        raise VoicebotError(f"--queue-announce {announce}: expected 30 to 60 seconds")
    config = ServeConfig(host, port, advertise, (int(low), int(high)), Limits(max_calls, max_decode_queue), announce)
    asyncio.run(_run([SipServer(config, stack, call_flow, store)]))


async def _run(servers: list[Any]) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    for server in servers:
        await server.start()
    err_console.print(f"voicebot serve: ready ({', '.join(_where(s) for s in servers)})", highlight=False)
    await stopping.wait()
    for server in servers:
        await server.stop()


def _where(server: Any) -> str:
    host, port = server.transport.local_addr[:2]
    return f"SIP udp {host}:{port}"



