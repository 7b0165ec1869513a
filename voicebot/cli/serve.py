"""`voicebot serve`: the long-running process. `--http HOST:PORT` serves the agent console and
wallboard (default 127.0.0.1:8080). Each service is one coroutine in one asyncio loop, so others
(e.g. `--sip`) run beside it in the same process on the same store."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from voicebot.cli.app import app, console, fail
from voicebot.cli.calls import DEFAULT_FLOW, DbOpt, FlowOpt, open_worker_store


def host_port(value: str, option: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(f"{option} must look like HOST:PORT (e.g. 127.0.0.1:8080), not {value!r}")
    return host.strip("[]"), int(port)


def http_service(store: Any, flow: Path, address: tuple[str, int], recordings: list[Path],
                 https_only: bool) -> Coroutine:
    import uvicorn

    from voicebot.flow import load_flow
    from voicebot.web.app import create_app
    from voicebot.web.settings import WebSettings, load_secret

    cfg = WebSettings(store=store, flow=load_flow(flow), secret=load_secret(Path("var/web.secret")),
                      recordings=tuple(recordings), https_only=https_only)
    server = uvicorn.Server(uvicorn.Config(create_app(cfg), host=address[0], port=address[1],
                                           log_level="warning", proxy_headers=False))
    console.print(f"web console: http://{address[0]}:{address[1]}/  (wallboard, agent console, /metrics)")
    return server.serve()


async def _run(services: list[Coroutine]) -> None:
    await asyncio.gather(*services)


@app.command()
def serve(
    http: Annotated[str, typer.Option("--http", help="serve the web console on HOST:PORT")] = "127.0.0.1:8080",
    flow: FlowOpt = DEFAULT_FLOW,
    db: DbOpt = None,
    recordings: Annotated[Optional[list[Path]], typer.Option(
        "--recordings", help="folders of call/voicemail WAVs the console may play")] = None,
    https_only: Annotated[bool, typer.Option("--secure-cookies", help="mark cookies Secure (behind TLS)")] = False,
) -> None:
    """Run the contact-centre services: the web console and wallboard (and, where built, SIP)."""
    store = open_worker_store(db)
    folders = recordings or [Path("var/calls"), Path("var/voicemail")]
    services = [http_service(store, flow, host_port(http, "--http"), folders, https_only)]
    try:
        asyncio.run(_run(services))
    except KeyboardInterrupt:
        pass
    finally:
        store.stop_worker()
