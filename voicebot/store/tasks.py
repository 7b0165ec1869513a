"""Callback requests and voicemails waiting for an agent, and marking them done."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from voicebot.store.models import TaskRow
from voicebot.store.spool import spooled
from voicebot.store.types import aware


class TaskMixin:
    @spooled
    def add_task(self, task: dict[str, Any]) -> None:
        with self._session() as s:
            s.add(TaskRow(kind=task["kind"], caller_id=task.get("caller_id"),
                          call_id=task.get("call_id"), queue=task.get("queue"),
                          text=task.get("text", ""), recording=task.get("recording"),
                          created_at=aware(task["created_at"])))
            s.commit()

    def has_task(self, task: dict[str, Any]) -> bool:
        """A task of this kind for this call made at this time is there already (a spooled task
        written twice)."""
        query = select(TaskRow.id).where(TaskRow.kind == task["kind"], TaskRow.created_at == aware(task["created_at"]))
        query = query.where(TaskRow.call_id == task["call_id"]) if task.get("call_id") else \
            query.where(TaskRow.call_id.is_(None))
        with self._session() as s:
            return s.scalar(query.limit(1)) is not None

    def tasks(self, kind: str | None = None, open_only: bool = False) -> list[dict[str, Any]]:
        query = select(TaskRow).order_by(TaskRow.id)
        if kind:
            query = query.where(TaskRow.kind == kind)
        if open_only:
            query = query.where(TaskRow.done_at.is_(None))
        with self._session() as s:
            return [{"id": r.id, "kind": r.kind, "caller_id": r.caller_id, "call_id": r.call_id,
                     "queue": r.queue, "text": r.text, "recording": r.recording,
                     "created_at": r.created_at.isoformat(), "done_at": r.done_at.isoformat() if r.done_at else None,
                     "done_by": r.done_by}
                    for r in s.scalars(query)]

    def complete_task(self, task_id: int, by: str, now: datetime) -> bool:
        """Mark a callback/voicemail done; False if it was done already (by someone else)."""
        with self._session() as s:
            done = s.execute(update(TaskRow).where(TaskRow.id == task_id, TaskRow.done_at.is_(None))
                             .values(done_at=aware(now), done_by=by))
            s.commit()
            return done.rowcount == 1
