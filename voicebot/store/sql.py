"""The SQLAlchemy implementation of Store (SQLite by default; the SQL is portable to PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from voicebot.store.models import AgentStateRow, CallRow, CardRow, CustomerRow, TaskRow, TransactionRow, TurnRow
from voicebot.store.pins import pin_matches
from voicebot.store.protocols import AgentState, Card, Customer, Transaction


def _customer(row: CustomerRow) -> Customer:
    return Customer(
        customer_id=row.customer_id, first_name=row.first_name, last_name=row.last_name,
        phone=row.phone, vip=row.vip, balance=row.balance, language=row.language,
        cards=tuple(Card(kind=c.kind, last4=c.last4, status=c.status) for c in row.cards),
    )


class SqlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def _session(self) -> Session:
        return self._sessions()

    # CustomerStore
    def get_customer(self, customer_id: str) -> Customer | None:
        with self._session() as s:
            row = s.get(CustomerRow, customer_id)
            return _customer(row) if row else None

    def find_by_phone(self, phone: str) -> Customer | None:
        with self._session() as s:
            row = s.scalars(select(CustomerRow).where(CustomerRow.phone == phone)).first()
            return _customer(row) if row else None

    def verify_pin(self, customer_id: str, pin: str) -> bool:
        with self._session() as s:
            row = s.get(CustomerRow, customer_id)
            return row is not None and pin_matches(pin, row.pin_salt, row.pin_hash)

    def recent_transactions(self, customer_id: str, limit: int = 3) -> list[Transaction]:
        query = (select(TransactionRow).where(TransactionRow.customer_id == customer_id)
                 .order_by(TransactionRow.posted_on.desc(), TransactionRow.id.desc()).limit(limit))
        with self._session() as s:
            return [Transaction(r.posted_on, r.description, r.amount) for r in s.scalars(query)]

    def set_card_status(self, customer_id: str, kind: str, status: str) -> Card | None:
        query = select(CardRow).where(CardRow.customer_id == customer_id, CardRow.kind == kind)
        with self._session() as s:
            row = s.scalars(query.order_by(CardRow.id)).first()
            if row is None:
                return None
            row.status = status
            s.commit()
            return Card(kind=row.kind, last4=row.last4, status=row.status)

    # CallStore
    def start_call(self, header: dict[str, Any]) -> None:
        with self._session() as s:
            s.merge(CallRow(call_id=header["call_id"], caller_id=header.get("caller_id"),
                            started_at=header["started_at"], ended_at=None, outcome=None,
                            record=header))
            s.commit()

    def add_turn(self, call_id: str, seq: int, turn: dict[str, Any]) -> None:
        with self._session() as s:
            s.add(TurnRow(call_id=call_id, seq=seq, turn=turn))
            s.commit()

    def finish_call(self, record: dict[str, Any]) -> None:
        with self._session() as s:
            row = s.get(CallRow, record["call_id"])
            if row is None:
                row = CallRow(call_id=record["call_id"], started_at=record["started_at"], record={})
                s.add(row)
            row.caller_id, row.ended_at = record.get("caller_id"), record.get("ended_at")
            row.outcome, row.record = record.get("outcome"), record
            s.commit()

    def calls(self) -> list[dict[str, Any]]:
        """Every call; an unfinished one (crashed mid-call) is its header plus the turns so far."""
        with self._session() as s:
            rows = s.scalars(select(CallRow).order_by(CallRow.started_at)).all()
            out = []
            for row in rows:
                data = dict(row.record)
                if row.ended_at is None:
                    turns = s.scalars(select(TurnRow).where(TurnRow.call_id == row.call_id)
                                      .order_by(TurnRow.seq)).all()
                    data["turns"] = [t.turn for t in turns]
                out.append(data)
            return out

    def turns(self, call_id: str) -> list[dict[str, Any]]:
        with self._session() as s:
            query = select(TurnRow).where(TurnRow.call_id == call_id).order_by(TurnRow.seq)
            return [t.turn for t in s.scalars(query)]

    # TaskStore
    def add_task(self, task: dict[str, Any]) -> None:
        with self._session() as s:
            s.add(TaskRow(kind=task["kind"], caller_id=task.get("caller_id"),
                          call_id=task.get("call_id"), queue=task.get("queue"),
                          text=task.get("text", ""), recording=task.get("recording"),
                          created_at=task["created_at"]))
            s.commit()

    def tasks(self, kind: str | None = None) -> list[dict[str, Any]]:
        query = select(TaskRow).order_by(TaskRow.id)
        if kind:
            query = query.where(TaskRow.kind == kind)
        with self._session() as s:
            return [{"kind": r.kind, "caller_id": r.caller_id, "call_id": r.call_id,
                     "queue": r.queue, "text": r.text, "recording": r.recording,
                     "created_at": r.created_at}
                    for r in s.scalars(query)]

    # AgentStore
    def agent_states(self) -> dict[str, AgentState]:
        with self._session() as s:
            return {r.name: AgentState(r.status, r.since, r.until) for r in s.scalars(select(AgentStateRow))}

    def set_agent_state(self, name: str, state: AgentState) -> None:
        with self._session() as s:
            s.merge(AgentStateRow(name=name, status=state.status, since=state.since, until=state.until))
            s.commit()
