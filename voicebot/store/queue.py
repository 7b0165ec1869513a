"""Callers waiting for a person, and shared counters. Taking the next caller is a guarded UPDATE
on the entry chosen (PostgreSQL skips rows another agent is taking: FOR UPDATE SKIP LOCKED), so
one caller reaches exactly one agent; entries are unique per call, so none is written twice.

An entry belongs to the worker holding the caller's line. When that worker dies (or shuts down
and hangs up), its waiting entries are `dropped`, keeping their enqueue time; the same caller
(caller ID) queuing again in the same queue within the rejoin window takes over that place."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_, update

from voicebot.store.models import AgentStateRow, CounterRow, QueueEntryRow, WorkerRow
from voicebot.store.spool import spooled
from voicebot.store.types import aware
from voicebot.store.unavailable import store_operation
from voicebot.store.upsert import insert_ignore

RANK = {"vip": 0, "high": 1, "normal": 2}


def _entry(row: QueueEntryRow) -> dict[str, Any]:
    return {"id": row.id, "call_id": row.call_id, "queue": row.queue, "priority": row.priority,
            "reason": row.reason, "status": row.status, "enqueued_at": row.enqueued_at,
            "taken_at": row.taken_at, "agent": row.agent, "worker_id": row.worker_id,
            "left_at": row.left_at, "kept_from": row.kept_from}


class QueueMixin:
    @spooled
    def enqueue(self, entry: dict[str, Any]) -> bool | None:
        """Put a call in a queue (once: a second enqueue of the same call is ignored), held by this
        worker (or `entry["worker_id"]`'s: a spooled entry, written later on behalf of the worker that
        had the call). With `caller_id` and `rejoin_seconds`, a place this caller lost with a worker in
        the same queue at most that long ago is taken over: its enqueue time and, if better, its
        priority (each dropped place is taken over once). Spooled when the database fails (None
        then), like the call's record: the caller is handed to a person even while it is down."""
        priority = entry.get("priority") or "normal"
        values = {"call_id": entry["call_id"], "queue": entry["queue"], "rank": RANK.get(priority, 2),
                  "priority": priority, "reason": entry.get("reason"), "status": "waiting",
                  "enqueued_at": aware(entry["enqueued_at"]), "worker_id": entry.get("worker_id", self.worker_id),
                  "caller_id": entry.get("caller_id")}
        with self._session() as s:
            kept = self._take_dropped(s, values, entry.get("rejoin_seconds"))
            if kept is not None:
                values.update(enqueued_at=kept.enqueued_at, kept_from=kept.id)
                if kept.rank < values["rank"]:
                    values.update(rank=kept.rank, priority=kept.priority)
            if not insert_ignore(s, QueueEntryRow, **values):
                s.rollback()  # enqueued already: the dropped place stays free
                return False
            s.commit()
            return True

    def _take_dropped(self, s, values: dict[str, Any], within_s: float | None) -> QueueEntryRow | None:
        """The caller's latest dropped place in this queue within the window, marked `rejoined`."""
        if not values["caller_id"] or not within_s:
            return None
        since = values["enqueued_at"] - timedelta(seconds=within_s)
        pick = (select(QueueEntryRow).where(QueueEntryRow.status == "dropped", QueueEntryRow.queue == values["queue"],
                                            QueueEntryRow.caller_id == values["caller_id"],
                                            QueueEntryRow.left_at >= since)
                .order_by(QueueEntryRow.left_at.desc()).limit(1))
        if self.engine.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        row = s.scalars(pick).first()
        if row is None:
            return None
        done = s.execute(update(QueueEntryRow).where(QueueEntryRow.id == row.id, QueueEntryRow.status == "dropped")
                         .values(status="rejoined"))
        return row if done.rowcount == 1 else None  # the same caller's other call took it first

    @store_operation
    def kept_place(self, call_id: str) -> int | None:
        """The place of a waiting call that took over a dropped one (None otherwise): what the
        caller is told instead of the end of the line."""
        with self._session() as s:
            kept = s.scalar(select(QueueEntryRow.kept_from).where(QueueEntryRow.call_id == call_id,
                                                                  QueueEntryRow.status == "waiting"))
        return self.position(call_id) if kept is not None else None

    def drop_unheld(self, now: datetime, call_ids: Collection[str] | None = None) -> list[str]:
        """The waiting entries held by a worker that is no longer registered (it died and was
        recovered: voicebot.store.workers) become `dropped` (their callers' lines are gone) and
        those calls end as abandoned, in one transaction; only those of `call_ids` when given (the
        spool wrote them in after their worker was recovered: voicebot.store.spool). Returns
        their call ids."""
        if call_ids is not None and not call_ids:
            return []
        registered = select(WorkerRow.worker_id)
        unheld = QueueEntryRow.worker_id.is_not(None) & QueueEntryRow.worker_id.not_in(registered)
        return self._drop(unheld if call_ids is None else QueueEntryRow.call_id.in_(list(call_ids)) & unheld, now)

    def _drop(self, held: ColumnElement[bool], now: datetime) -> list[str]:
        now = aware(now)
        with self._session() as s:
            ids = list(s.scalars(update(QueueEntryRow).where(QueueEntryRow.status == "waiting", held)
                                 .values(status="dropped", left_at=now).returning(QueueEntryRow.call_id)).all())
            if ids:
                self._end_lost_waits(s, ids, now)
            s.commit()
            return ids

    @store_operation
    def waiting(self, queues: list[str] | None = None) -> list[dict[str, Any]]:
        """Waiting callers in the order agents get them: VIP, then high priority, then first come."""
        query = (select(QueueEntryRow).where(QueueEntryRow.status == "waiting")
                 .order_by(QueueEntryRow.rank, QueueEntryRow.enqueued_at, QueueEntryRow.id))
        if queues is not None:
            query = query.where(QueueEntryRow.queue.in_(queues))
        with self._session() as s:
            return [_entry(r) for r in s.scalars(query)]

    def queue_history(self, since: datetime) -> list[dict[str, Any]]:
        query = select(QueueEntryRow).where(QueueEntryRow.enqueued_at >= aware(since)).order_by(QueueEntryRow.id)
        with self._session() as s:
            return [_entry(r) for r in s.scalars(query)]

    def take_next(self, agent: str, queues: list[str], now: datetime) -> dict[str, Any] | None:
        """The next waiting caller in `queues` for `agent`, who becomes busy on that call; None when
        nobody waits. Exactly one agent gets each caller, however many ask at once."""
        now = aware(now)
        pick = (select(QueueEntryRow.id).where(QueueEntryRow.status == "waiting", QueueEntryRow.queue.in_(queues))
                .order_by(QueueEntryRow.rank, QueueEntryRow.enqueued_at, QueueEntryRow.id).limit(1))
        if self.engine.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        for _ in range(20):  # lost a race: the next one
            with self._session() as s:
                entry_id = s.scalar(pick)
                if entry_id is None:
                    return None
                done = s.execute(update(QueueEntryRow)
                                 .where(QueueEntryRow.id == entry_id, QueueEntryRow.status == "waiting")
                                 .values(status="taken", agent=agent, taken_at=now))
                if done.rowcount != 1:
                    s.rollback()
                    continue
                row = s.get(QueueEntryRow, entry_id)
                state = {"status": "busy", "since": now, "until": None, "call_id": row.call_id}
                if not insert_ignore(s, AgentStateRow, name=agent, **state):
                    s.execute(update(AgentStateRow).where(AgentStateRow.name == agent).values(**state))
                s.commit()
                return _entry(row)
        return None

    @store_operation
    def position(self, call_id: str) -> int | None:
        """1-based place of a waiting call in its queue (None once taken or gone): what a caller
        on hold is told, from the store, so it survives a worker restart."""
        with self._session() as s:
            me = s.scalars(select(QueueEntryRow).where(QueueEntryRow.call_id == call_id,
                                                       QueueEntryRow.status == "waiting")).first()
            if me is None:
                return None
            ahead = s.scalar(select(func.count()).select_from(QueueEntryRow).where(
                QueueEntryRow.queue == me.queue, QueueEntryRow.status == "waiting",
                tuple_(QueueEntryRow.rank, QueueEntryRow.enqueued_at, QueueEntryRow.id)
                < tuple_(me.rank, me.enqueued_at, me.id)))
            return ahead + 1

    @spooled
    def leave_queue(self, call_id: str, status: str = "abandoned", now: datetime | str | None = None) -> bool:
        """The caller hung up (or took a callback, or was `dropped` by a worker shutting down)
        while waiting; False if an agent took them first. Spooled when the database fails (None
        then), like the call's record: voicebot.store.spool."""
        left = aware(now) if now else datetime.now(timezone.utc)
        with self._session() as s:
            done = s.execute(update(QueueEntryRow).where(QueueEntryRow.call_id == call_id,
                                                         QueueEntryRow.status == "waiting")
                             .values(status=status, left_at=left))
            s.commit()
            return done.rowcount == 1

    @store_operation
    def next_counter(self, key: str) -> int:
        """0, 1, 2, … per key, shared by every worker (round-robin pointers)."""
        with self._session() as s:
            insert_ignore(s, CounterRow, key=key, value=0)
            value = s.scalar(update(CounterRow).where(CounterRow.key == key)
                             .values(value=CounterRow.value + 1).returning(CounterRow.value))
            s.commit()
            return value - 1
