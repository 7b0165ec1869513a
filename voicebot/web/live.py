"""Live updates over Server-Sent Events: the server re-renders a page's live part every tick and
sends it only when it changed; the page swaps it in (static/live.js). A tick well under a second
keeps every change on screen within 1 s."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from voicebot.web import views
from voicebot.web.auth import User, api_supervisor, api_user
from voicebot.web.pages import templates

router = APIRouter(prefix="/live")


def _fragment(request: Request, name: str, **context) -> str:
    return templates.get_template(name).render(request=request, **context)


async def _stream(request: Request, render):
    cfg = request.app.state.cfg
    last = None
    while not await request.is_disconnected():
        html = await run_in_threadpool(render)  # the store is synchronous: off the event loop
        if html != last:
            last = html
            yield {"event": "update", "data": html}
        await asyncio.sleep(cfg.tick_seconds)


@router.get("/wallboard")
async def wallboard(request: Request, user: Annotated[User, Depends(api_supervisor)]):
    cfg = request.app.state.cfg
    return EventSourceResponse(_stream(request, lambda: _fragment(
        request, "_wallboard.html", board=views.wallboard(cfg))), ping=15)


@router.get("/agent")
async def agent(request: Request, user: Annotated[User, Depends(api_user)]):
    cfg = request.app.state.cfg
    return EventSourceResponse(_stream(request, lambda: _fragment(
        request, "_agent.html", console=views.agent_console(cfg, user), user=user,
        csrf=request.session.get("csrf", ""))), ping=15)
