"""The state changes agents make, shared by the HTML forms and the JSON API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import HTTPException
from fastapi import Path as UrlPart

from voicebot.store.protocols import AgentState
from voicebot.web.auth import User
from voicebot.web.settings import WebSettings
from voicebot.web.views import agent_queues

STATUSES = ("available", "busy", "offline")
# a task id in a URL: a number the database can hold (a longer one had been a 500 from SQLite)
TaskId = Annotated[int, UrlPart(ge=0, le=2**63 - 1)]


def set_status(cfg: WebSettings, name: str, status: str) -> None:
    if status not in STATUSES:
        raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}")
    cfg.store.set_agent_state(name, AgentState(status, cfg.now()))


def take_next(cfg: WebSettings, user: User) -> dict[str, Any] | None:
    """The atomic claim: of agents asking at once, exactly one gets each waiting caller."""
    now = cfg.now()
    queues = agent_queues(cfg, user, now)
    return cfg.store.take_next(user.name, queues, now) if queues else None


def resolve(cfg: WebSettings, user: User, call_id: str, resolved: bool) -> None:
    """The agent's verdict on their call (feeds FCR); the agent is free again."""
    if cfg.store.agent_calls().get(user.name) != call_id and not user.supervisor:
        raise HTTPException(403, "not your call")
    if not cfg.store.set_resolution(call_id, resolved):
        raise HTTPException(404, "no such call")
    if cfg.store.agent_calls().get(user.name) == call_id:
        cfg.store.set_agent_state(user.name, AgentState("available", cfg.now()))


def complete_task(cfg: WebSettings, user: User, task_id: int) -> None:
    if not cfg.store.complete_task(task_id, user.name, cfg.now()):
        raise HTTPException(409, "already done, or no such task")


def task_recording(cfg: WebSettings, task_id: int) -> Path:
    """A voicemail's WAV, only from the recording folders (never an arbitrary path from the DB)."""
    task = next((t for t in cfg.store.tasks() if t["id"] == task_id), None)
    if task is None or not task["recording"]:
        raise HTTPException(404, "no recording for this task")
    path = Path(task["recording"]).resolve()
    if not any(path.is_relative_to(folder.resolve()) for folder in cfg.recordings) or not path.is_file():
        raise HTTPException(404, "recording not available")
    return path
