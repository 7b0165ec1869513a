"""Call records, written as the call happens (header, then each turn, then the whole record), read
back for reports, the wallboard and the call history. A finished call replaces its header; an
unfinished one is its header plus the turns so far."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from voicebot.store.models import CallRow, QueueEntryRow, TurnRow
from voicebot.store.spool import spooled
from voicebot.store.types import aware


class CallMixin:
    # The writes of a call's record (and tasks.py's add_task) go to the spool when the database
    # fails (voicebot.store.spool); `worker_id`: on behalf of another worker (a spooled write).
    @spooled
    def start_call(self, header: dict[str, Any], worker_id: str | None = None) -> None:
        """Write (or rewrite) a call's header. Idempotent: the same call started twice, even by
        two workers at once (a proxy retrying an INVITE), leaves one record."""
        for attempt in range(3):
            with self._session() as s:
                s.merge(CallRow(call_id=header["call_id"], caller_id=header.get("caller_id"),
                                started_at=aware(header["started_at"]), ended_at=None, outcome=None,
                                worker_id=worker_id or self.worker_id, record=header))
                try:
                    s.commit()
                    return
                except IntegrityError:  # inserted by someone else between merge's read and write
                    s.rollback()
                    if attempt == 2:
                        raise

    @spooled
    def add_turn(self, call_id: str, seq: int, turn: dict[str, Any]) -> None:
        """Idempotent: the same (call, seq) written twice (a retried commit) is kept once. Any
        other refusal (a turn of a call the database does not hold) is raised, and spooled."""
        with self._session() as s:
            s.add(TurnRow(call_id=call_id, seq=seq, turn=turn))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                if s.scalar(select(TurnRow.id).where(TurnRow.call_id == call_id, TurnRow.seq == seq)) is None:
                    raise

    @spooled
    def finish_call(self, record: dict[str, Any], worker_id: str | None = None) -> None:
        with self._session() as s:
            row = s.get(CallRow, record["call_id"])
            if row is None:
                row = CallRow(call_id=record["call_id"], started_at=aware(record["started_at"]), record={},
                              worker_id=worker_id or self.worker_id)
                s.add(row)
            row.caller_id, row.ended_at = record.get("caller_id"), aware(record.get("ended_at"))
            row.outcome, row.queue, row.record = record.get("outcome"), record.get("queue"), record
            s.commit()

    def call_finished(self, call_id: str) -> bool:
        with self._session() as s:
            return s.scalar(select(CallRow.ended_at).where(CallRow.call_id == call_id)) is not None

    def calls(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Every call (started at or after `since`), oldest first."""
        query = select(CallRow).order_by(CallRow.started_at)
        if since is not None:
            query = query.where(CallRow.started_at >= aware(since))
        with self._session() as s:
            return [self._call_dict(s, row) for row in s.scalars(query)]

    def call(self, call_id: str) -> dict[str, Any] | None:
        with self._session() as s:
            row = s.get(CallRow, call_id)
            return self._call_dict(s, row) if row else None

    def turns(self, call_id: str) -> list[dict[str, Any]]:
        with self._session() as s:
            query = select(TurnRow).where(TurnRow.call_id == call_id).order_by(TurnRow.seq)
            return [t.turn for t in s.scalars(query)]

    def live_calls(self) -> list[dict[str, Any]]:
        """Calls in progress, each with its latest flow state, intent and sentiment."""
        query = select(CallRow).where(CallRow.ended_at.is_(None)).order_by(CallRow.started_at)
        with self._session() as s:
            out = []
            for row in s.scalars(query):
                data = self._call_dict(s, row)
                turns = data.get("turns", [])
                said = [t["caller"] for t in turns if t["caller"].get("intent")]
                felt = [t["caller"] for t in turns if t["caller"].get("sentiment")]
                data.update(state=turns[-1]["state"] if turns else None,
                            last_intent=said[-1]["intent"] if said else None,
                            sentiment=felt[-1]["sentiment"] if felt else None,
                            worker_id=row.worker_id)
                out.append(data)
            return out

    def search_calls(self, caller: str | None = None, since: datetime | None = None,
                     until: datetime | None = None, outcome: str | None = None,
                     queue: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Newest first; `caller` matches the end of the number (the last digits a person types)."""
        query = select(CallRow).order_by(CallRow.started_at.desc()).limit(limit)
        if caller:
            query = query.where(CallRow.caller_id.like(f"%{caller}"))
        if since is not None:
            query = query.where(CallRow.started_at >= aware(since))
        if until is not None:
            query = query.where(CallRow.started_at < aware(until))
        if outcome:
            query = query.where(CallRow.outcome == outcome)
        if queue:
            query = query.where(CallRow.queue == queue)
        with self._session() as s:
            return [self._call_dict(s, row, with_turns=False) for row in s.scalars(query)]

    def set_resolution(self, call_id: str, resolved: bool) -> bool:
        """An agent's verdict: was the caller's problem solved on this contact (feeds FCR)?"""
        with self._session() as s:
            done = s.execute(update(CallRow).where(CallRow.call_id == call_id).values(resolved=resolved))
            s.commit()
            return done.rowcount == 1

    def close_abandoned(self, call_ids: list[str], now: datetime | None = None) -> int:
        """Close unfinished calls as abandoned (their worker died); a call finished meanwhile is left."""
        now = aware(now) if now else datetime.now(timezone.utc)
        closed = 0
        with self._session() as s:
            for row in s.scalars(select(CallRow).where(CallRow.call_id.in_(call_ids), CallRow.ended_at.is_(None))):
                record = self._call_dict(s, row)
                started = datetime.fromisoformat(record["started_at"])
                record.update(outcome="abandoned", ended_at=now.isoformat(),
                              handle_seconds=round((now - started).total_seconds(), 3),
                              disposition=record.get("disposition") or "worker_lost")
                record.pop("agent_resolved", None)
                done = s.execute(update(CallRow).where(CallRow.call_id == row.call_id, CallRow.ended_at.is_(None))
                                 .values(ended_at=now, outcome="abandoned", record=record))
                closed += done.rowcount
            s.execute(update(QueueEntryRow).where(QueueEntryRow.call_id.in_(call_ids), QueueEntryRow.status == "waiting")
                      .values(status="dropped", left_at=now))  # the line went with the worker
            s.commit()
        return closed

    @staticmethod
    def _end_lost_waits(s, call_ids: list[str], now: datetime) -> int:
        """In session `s`: calls whose caller was waiting in a queue on a worker that died (the
        flow had finished, queued; the wait had not) end now as abandoned, `worker_lost`."""
        closed = 0
        for row in s.scalars(select(CallRow).where(CallRow.call_id.in_(call_ids))):
            record = dict(row.record)
            if record.get("disposition") != "queued":
                continue  # its wait already ended (taken, callback, hung up) before the worker died
            started = datetime.fromisoformat(record["started_at"])
            record.update(outcome="abandoned", disposition="worker_lost", ended_at=now.isoformat(),
                          handle_seconds=round((now - started).total_seconds(), 3))
            row.record, row.outcome, row.ended_at = record, "abandoned", now
            closed += 1
        return closed

    @staticmethod
    def _call_dict(s, row: CallRow, with_turns: bool = True) -> dict[str, Any]:
        data = dict(row.record)
        if row.ended_at is None and with_turns:
            turns = s.scalars(select(TurnRow).where(TurnRow.call_id == row.call_id).order_by(TurnRow.seq))
            data["turns"] = [t.turn for t in turns]
        data["agent_resolved"] = row.resolved
        return data
