"""The SQLAlchemy implementation of Store (SQLite by default; the SQL is portable to PostgreSQL).
Customers here; calls, agents, queues, workers and users in one mixin module each."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from voicebot.store.agents import AgentMixin
from voicebot.store.calls import CallMixin
from voicebot.store.models import CardRow, CustomerRow, TransactionRow
from voicebot.store.pins import pin_matches
from voicebot.store.protocols import Card, Customer, Transaction
from voicebot.store.queue import QueueMixin
from voicebot.store.spool import Spool, spool_file
from voicebot.store.tasks import TaskMixin
from voicebot.store.unavailable import store_operation
from voicebot.store.users import UserMixin
from voicebot.store.workers import WorkerMixin

log = logging.getLogger(__name__)


def _customer(row: CustomerRow) -> Customer:
    return Customer(
        customer_id=row.customer_id, first_name=row.first_name, last_name=row.last_name,
        phone=row.phone, vip=row.vip, balance=row.balance, language=row.language,
        cards=tuple(Card(kind=c.kind, last4=c.last4, status=c.status) for c in row.cards),
    )


class SqlStore(CallMixin, TaskMixin, AgentMixin, QueueMixin, WorkerMixin, UserMixin):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.worker_id: str | None = None  # set by start_worker(); stamped on the calls it writes
        self.spool = Spool(spool_file(engine.url), str(engine.url))  # str(): the password hidden

    def flush_spool(self) -> int:
        """Write the call records the database could not take earlier (voicebot.store.spool);
        returns how many calls' records. A caller it puts in a queue for a worker that has died
        and was recovered meanwhile is dropped at once (their place kept, their call abandoned),
        as that recovery would have done: else they would wait for an agent on a line long gone."""
        written = self.spool.flush(self)
        dropped = self.drop_unheld(datetime.now(timezone.utc), written - {None})
        if dropped:
            log.warning("dropped %d queued caller(s) the spool held for stopped workers (their place is kept)",
                        len(dropped))
        return len(written)

    def _session(self) -> Session:
        return self._sessions()

    # CustomerStore
    @store_operation
    def get_customer(self, customer_id: str) -> Customer | None:
        with self._session() as s:
            row = s.get(CustomerRow, customer_id)
            return _customer(row) if row else None

    @store_operation
    def find_by_phone(self, phone: str) -> Customer | None:
        with self._session() as s:
            row = s.scalars(select(CustomerRow).where(CustomerRow.phone == phone)).first()
            return _customer(row) if row else None

    @store_operation
    def verify_pin(self, customer_id: str, pin: str) -> bool:
        with self._session() as s:
            row = s.get(CustomerRow, customer_id)
            return row is not None and pin_matches(pin, row.pin_salt, row.pin_hash)

    @store_operation
    def recent_transactions(self, customer_id: str, limit: int = 3) -> list[Transaction]:
        query = (select(TransactionRow).where(TransactionRow.customer_id == customer_id)
                 .order_by(TransactionRow.posted_on.desc(), TransactionRow.id.desc()).limit(limit))
        with self._session() as s:
            return [Transaction(r.posted_on, r.description, r.amount) for r in s.scalars(query)]

    @store_operation
    def set_card_status(self, customer_id: str, kind: str, status: str) -> Card | None:
        query = select(CardRow).where(CardRow.customer_id == customer_id, CardRow.kind == kind)
        with self._session() as s:
            row = s.scalars(query.order_by(CardRow.id)).first()
            if row is None:
                return None
            row.status = status
            s.commit()
            return Card(kind=row.kind, last4=row.last4, status=row.status)
