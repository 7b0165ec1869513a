"""HTML pages (server-rendered, Jinja2). Every state change is a POST with a CSRF token, then a
303 redirect back (no state change on GET)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from voicebot.web import actions, views
from voicebot.web.auth import User, check_csrf, csrf_token, log_in, page_supervisor, page_user

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
router = APIRouter()


def render(request: Request, name: str, user: User | None = None, status: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"user": user, "csrf": csrf_token(request), **context},
                                      status_code=status)


def _local(url: str) -> str:
    """Only a path on this site after login ("//evil" and "/\\evil" are other sites to a browser)."""
    return url if url.startswith("/") and not url.startswith(("//", "/\\")) else "/"


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/", include_in_schema=False)
def home(user: Annotated[User, Depends(page_user)]):
    return _back("/wallboard" if user.supervisor else "/agent")


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    return render(request, "login.html", next=_local(next))


@router.post("/login", dependencies=[Depends(check_csrf)])
def login(request: Request, name: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/"):
    cfg = request.app.state.cfg
    throttle = request.app.state.throttle
    keys = (f"name:{name}", f"addr:{request.client.host if request.client else '?'}")
    if throttle.blocked(*keys):
        return render(request, "login.html", status=429, next=next,
                      error="Too many failed logins; try again in a few minutes.")
    role = cfg.store.authenticate_user(name, password)
    if role is None:
        throttle.failed(*keys)
        return render(request, "login.html", status=401, next=next, error="Wrong name or password.")
    throttle.succeeded(keys[0])
    log_in(request, name, role)
    return _back(_local(next))


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request):
    request.session.clear()
    return _back("/login")


@router.get("/wallboard")
def wallboard(request: Request, user: Annotated[User, Depends(page_supervisor)]):
    return render(request, "wallboard.html", user, board=views.wallboard(request.app.state.cfg))


@router.get("/settings")
def settings(request: Request, user: Annotated[User, Depends(page_supervisor)]):
    cfg = request.app.state.cfg
    return render(request, "settings.html", user, users=cfg.store.users(), flow=cfg.flow.spec,
                  service_level_seconds=cfg.service_level_seconds)


@router.get("/agent")
def agent(request: Request, user: Annotated[User, Depends(page_user)], note: str | None = None):
    return render(request, "agent.html", user, console=views.agent_console(request.app.state.cfg, user),
                  note=note)


@router.post("/agent/status", dependencies=[Depends(check_csrf)])
def agent_status(request: Request, user: Annotated[User, Depends(page_user)], status: Annotated[str, Form()]):
    actions.set_status(request.app.state.cfg, user.name, status)
    return _back("/agent")


@router.post("/agent/take", dependencies=[Depends(check_csrf)])
def agent_take(request: Request, user: Annotated[User, Depends(page_user)]):
    entry = actions.take_next(request.app.state.cfg, user)
    return _back("/agent" if entry else "/agent?note=nobody+waiting")


@router.post("/agent/resolve", dependencies=[Depends(check_csrf)])
def agent_resolve(request: Request, user: Annotated[User, Depends(page_user)],
                  call_id: Annotated[str, Form()], resolved: Annotated[str, Form()]):
    actions.resolve(request.app.state.cfg, user, call_id, resolved == "yes")
    return _back("/agent")


@router.post("/agent/tasks/{task_id}/done", dependencies=[Depends(check_csrf)])
def task_done(request: Request, task_id: actions.TaskId, user: Annotated[User, Depends(page_user)]):
    actions.complete_task(request.app.state.cfg, user, task_id)
    return _back("/agent")


@router.get("/tasks/{task_id}/recording")
def task_recording(request: Request, task_id: actions.TaskId, user: Annotated[User, Depends(page_user)]):
    path = actions.task_recording(request.app.state.cfg, task_id)
    return FileResponse(path, media_type="audio/wav")


@router.get("/calls")
def calls(request: Request, user: Annotated[User, Depends(page_user)], caller: str = "", date: str = "",
          outcome: str = "", queue: str = ""):
    cfg = request.app.state.cfg
    since = until = None
    if date:
        try:
            day = datetime.fromisoformat(date).replace(tzinfo=cfg.day_start().tzinfo)
        except ValueError:
            raise HTTPException(400, f"date must look like 2026-11-23, not {date!r}") from None
        since, until = day, day + timedelta(days=1)
    found = cfg.store.search_calls(caller=caller.strip() or None, since=since, until=until,
                                   outcome=outcome or None, queue=queue or None)
    return render(request, "calls.html", user, calls=[views.public_call(c) for c in found],
                  query={"caller": caller, "date": date, "outcome": outcome, "queue": queue},
                  queues=list(cfg.flow.spec.queues))


@router.get("/calls/{call_id}")
def call_page(request: Request, call_id: str, user: Annotated[User, Depends(page_user)]):
    call = views.call_detail(request.app.state.cfg, call_id)
    if call is None:
        raise HTTPException(404, "no such call")
    return render(request, "call.html", user, call=call)


@router.get("/calls/{call_id}/recording.wav")
def call_recording(request: Request, call_id: str, user: Annotated[User, Depends(page_user)]) -> Response:
    path = views.recording_path(request.app.state.cfg, call_id)
    if path is None:
        raise HTTPException(404, "no recording of this call")
    return FileResponse(path, media_type="audio/wav")
