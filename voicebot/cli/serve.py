"""`voicebot serve`: the long-running worker. `--sip HOST:PORT` answers phone calls; `--http
HOST:PORT` serves the agent console and wallboard (the default when neither is given:
127.0.0.1:8080). Both run in one asyncio loop on one store; SIP calls share one Stack."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import socket
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from voicebot.cli.app import app, console, err_console, fail
from voicebot.cli.calls import DEFAULT_FLOW, DbOpt, FlowOpt, open_worker_store
from voicebot.registry import is_import_cycle, load_together

DEFAULT_HTTP = "127.0.0.1:8080"


def host_port(value: str, option: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(f"{option} must look like HOST:PORT (e.g. 127.0.0.1:8080), not {value!r}")
    return host.strip("[]"), int(port)


def claim_port(address: tuple[str, int], option: str, kind: int) -> socket.socket:
    """A socket bound to `address` (TCP listening, or UDP), so a port another program holds or an
    address this host does not have is said at once, before any model loads."""
    host, port = address
    try:
        family = socket.getaddrinfo(host, port, type=kind)[0][0]
        if kind == socket.SOCK_STREAM:
            return socket.create_server(address, family=family)
        sock = socket.socket(family, kind)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        return sock
    except OSError as exc:
        why = os.strerror(exc.errno) if (exc.errno or 0) > 0 else exc.strerror or str(exc)
        fail(f"{option} {host}:{port}: cannot listen there: {why}")


def http_service(store: Any, flow: Path, address: tuple[str, int], recordings: list[Path],
                 https_only: bool) -> Any:
    import uvicorn

    from voicebot.flow import load_flow
    from voicebot.web.app import create_app
    from voicebot.web.settings import WebSettings, load_secret

    cfg = WebSettings(store=store, flow=load_flow(flow), secret=load_secret(Path("var/web.secret")),
                      recordings=tuple(recordings), https_only=https_only)
    server = uvicorn.Server(uvicorn.Config(create_app(cfg), host=address[0], port=address[1],
                                           log_level="warning", proxy_headers=False))
    console.print(f"web console: http://{address[0]}:{address[1]}/  (wallboard, agent console, /metrics)")
    return server


def check_sip_options(rtp_ports: str, announce: float, advertise: str | None = None) -> tuple[int, int]:
    if advertise is not None:  # it goes into every SDP answer: a typo there is calls without audio
        try:
            ipaddress.ip_address(advertise)
        except ValueError:
            fail(f"--advertise {advertise!r}: expected this worker's IP address, e.g. 203.0.113.7")
    low, _, high = rtp_ports.partition("-")
    if not (low.isdigit() and high.isdigit() and 1024 <= int(low) < int(high) < 65536):
        fail(f"--rtp-ports {rtp_ports!r}: expected LOW-HIGH, e.g. 20000-40000")
    if not 30 <= announce <= 60:
        fail(f"--queue-announce {announce}: expected 30 to 60 seconds")
    return int(low), int(high)


def load_call_models(flow: Path, backend: str, tts: str) -> tuple[Any, Any]:
    """The flow and the Stack every SIP call shares, its fixed prompts rendered."""
    from voicebot.flow import load_flow
    from voicebot.pipeline import Stack

    call_flow = load_flow(flow)  # a broken flow fails before any model loads
    stack = Stack.load(asr=backend, tts=tts)
    if stack.prompts is not None:
        stack.prompts.follow(call_flow)  # its policy: personal prompts never reach the disk
    return call_flow, stack


def sip_service(store: Any, models: tuple[Any, Any], address: tuple[str, int], *, advertise: str | None,
                rtp_ports: tuple[int, int], max_calls: int, max_decode_queue: int, announce: float,
                max_render_queue: int = 3) -> Any:
    from voicebot.transports.sip import ServeConfig, SipServer
    from voicebot.transports.sip.admission import Limits

    call_flow, stack = models
    config = ServeConfig(address[0], address[1], advertise, rtp_ports, Limits(max_calls, max_decode_queue, max_render_queue),
                         announce)
    return SipServer(config, stack, call_flow, store)


async def _run(sip_servers: list[Any], http_server: Any | None, http_socket: socket.socket | None = None) -> None:
    for server in sip_servers:
        await server.start()
    where = [_where(s) for s in sip_servers] + (["HTTP"] if http_server is not None else [])
    err_console.print(f"voicebot serve: ready ({', '.join(where)})", highlight=False)
    try:
        if http_server is not None:
            # uvicorn takes SIGINT/SIGTERM while it serves and raises them again when it returns;
            # the handlers below absorb that, so the SIP calls are still closed properly.
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: None)
            await http_server.serve(sockets=[http_socket] if http_socket else None)
        else:
            await _until_signal()
    finally:
        for server in sip_servers:
            await server.stop()


async def _until_signal() -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()


def _where(server: Any) -> str:
    host, port = server.transport.local_addr[:2]
    return f"SIP udp {host}:{port}"


@app.command()
def serve(
    sip: Annotated[Optional[str], typer.Option("--sip", help="answer SIP calls on HOST:PORT (UDP)")] = None,
    http: Annotated[Optional[str], typer.Option(
        "--http", help=f"serve the web console on HOST:PORT (default {DEFAULT_HTTP} when --sip is not given)")] = None,
    flow: FlowOpt = DEFAULT_FLOW,
    db: DbOpt = None,
    recordings: Annotated[Optional[list[Path]], typer.Option(
        "--recordings", help="folders of call/voicemail WAVs the console may play")] = None,
    https_only: Annotated[bool, typer.Option("--secure-cookies", help="mark cookies Secure (behind TLS)")] = False,
    advertise: Annotated[Optional[str], typer.Option("--advertise", help="IP peers reach this worker at (NAT)")] = None,
    rtp_ports: Annotated[str, typer.Option("--rtp-ports", help="RTP port range LOW-HIGH")] = "20000-40000",
    max_calls: Annotated[int, typer.Option("--max-calls", min=1, help="calls held at once; more get 503")] = 12,
    max_decode_queue: Annotated[int, typer.Option("--max-decode-queue", min=0,
                                                  help="turns waiting for the recogniser before new calls get 503")] = 4,
    max_render_queue: Annotated[int, typer.Option("--max-render-queue", min=0,
                                                  help="answers waiting for the synthesizer before new calls get 503")] = 3,
    announce: Annotated[float, typer.Option("--queue-announce", help="seconds between a queued caller's "
                                                                     "position announcements (30-60)")] = 45.0,
    backend: Annotated[str, typer.Option("--backend", help="ASR backend")] = "whisper",
    tts: Annotated[str, typer.Option("--tts", help="TTS backend")] = "piper",
) -> None:
    """Run the contact-centre worker: SIP calls (--sip) and/or the web console (--http) until
    stopped (Ctrl-C / SIGTERM); unfinished calls are closed as abandoned."""
    if sip is None and http is None:
        http = DEFAULT_HTTP
    sip_address = host_port(sip, "--sip") if sip is not None else None
    http_address = host_port(http, "--http") if http is not None else None
    ports = check_sip_options(rtp_ports, announce, advertise) if sip_address else (0, 0)
    if sip_address:  # free again at once: the SIP transport binds it when the models are loaded
        claim_port(sip_address, "--sip", socket.SOCK_DGRAM).close()
    http_socket = claim_port(http_address, "--http", socket.SOCK_STREAM) if http_address else None

    def models() -> Any:  # an error comes back as a value: the store opened beside it is closed below
        try:
            return load_call_models(flow, backend, tts) if sip_address else None
        except Exception as exc:
            if is_import_cycle(exc):  # load_together loads it again alone
                raise
            return exc

    # The store (SQLAlchemy, the schema check or migrations) opens while a SIP worker's models load.
    store, loaded = load_together(lambda: open_worker_store(db), models)
    try:
        if isinstance(loaded, Exception):
            raise loaded
        sip_servers = [sip_service(store, loaded, sip_address, advertise=advertise, rtp_ports=ports,
                                   max_calls=max_calls, max_decode_queue=max_decode_queue,
                                   announce=announce, max_render_queue=max_render_queue)] if sip_address else []
        folders = recordings or [Path("var/calls"), Path("var/voicemail")]
        http_server = http_service(store, flow, http_address, folders, https_only) if http_address else None
        asyncio.run(_run(sip_servers, http_server, http_socket))
    except KeyboardInterrupt:
        pass
    finally:
        store.stop_worker()
        if http_socket is not None:
            http_socket.close()
