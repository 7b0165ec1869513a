"""JSON API under /api: the same data and actions as the pages, for scripts and tests. No session
→ 401; POSTs need the X-CSRF-Token header (GET /api/me gives it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request

from voicebot.web import actions, views
from voicebot.web.auth import User, api_supervisor, api_user, check_csrf, csrf_token

router = APIRouter(prefix="/api")


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not k.endswith("_chart")}


@router.get("/me")
def me(request: Request, user: Annotated[User, Depends(api_user)]):
    return {"name": user.name, "role": user.role, "csrf": csrf_token(request)}


@router.get("/wallboard")
def wallboard(request: Request, user: Annotated[User, Depends(api_supervisor)]):
    return _jsonable(views.wallboard(request.app.state.cfg))


@router.get("/agent")
def agent(request: Request, user: Annotated[User, Depends(api_user)]):
    console = views.agent_console(request.app.state.cfg, user)
    if console["call"]:
        console["call"] = _jsonable(console["call"])
    return console


@router.post("/agent/status", dependencies=[Depends(check_csrf)])
def status(request: Request, user: Annotated[User, Depends(api_user)], status: Annotated[str, Body(embed=True)]):
    actions.set_status(request.app.state.cfg, user.name, status)
    return {"name": user.name, "status": status}


@router.post("/agent/take", dependencies=[Depends(check_csrf)])
def take(request: Request, user: Annotated[User, Depends(api_user)]):
    entry = actions.take_next(request.app.state.cfg, user)
    if entry is None:
        raise HTTPException(409, "nobody is waiting in your queues")
    return entry


@router.post("/calls/{call_id}/resolution", dependencies=[Depends(check_csrf)])
def resolution(request: Request, call_id: str, user: Annotated[User, Depends(api_user)],
               resolved: Annotated[bool, Body(embed=True)]):
    actions.resolve(request.app.state.cfg, user, call_id, resolved)
    return {"call_id": call_id, "resolved": resolved}


@router.post("/tasks/{task_id}/done", dependencies=[Depends(check_csrf)])
def task_done(request: Request, task_id: actions.TaskId, user: Annotated[User, Depends(api_user)]):
    actions.complete_task(request.app.state.cfg, user, task_id)
    return {"id": task_id, "done_by": user.name}


@router.get("/calls")
def calls(request: Request, user: Annotated[User, Depends(api_user)], caller: str | None = None,
          outcome: str | None = None, queue: str | None = None):
    found = request.app.state.cfg.store.search_calls(caller=caller, outcome=outcome, queue=queue)
    return [views.public_call(c) for c in found]


@router.get("/calls/{call_id}")
def call(request: Request, call_id: str, user: Annotated[User, Depends(api_user)]):
    detail = views.call_detail(request.app.state.cfg, call_id)
    if detail is None:
        raise HTTPException(404, "no such call")
    return _jsonable(detail)
