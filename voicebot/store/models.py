"""SQLAlchemy tables. Portable types only (no SQLite- or PostgreSQL-specific SQL) so the same
models serve both backends. The schema itself is made by the Alembic migrations in
voicebot/store/migrations; these classes must match what the latest migration leaves."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from voicebot.store.protocols import AGENT_NAME_LENGTH, CALLER_ID_LENGTH, QUEUE_NAME_LENGTH
from voicebot.store.types import UtcDateTime


class Base(DeclarativeBase):
    pass


class CustomerRow(Base):
    __tablename__ = "customers"
    customer_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(32), index=True)
    vip: Mapped[bool] = mapped_column(default=False)
    balance: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    language: Mapped[str] = mapped_column(String(8), default="en")
    pin_salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    pin_hash: Mapped[bytes] = mapped_column(LargeBinary(64))
    cards: Mapped[list[CardRow]] = relationship(order_by="CardRow.id")


class CardRow(Base):
    __tablename__ = "cards"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    kind: Mapped[str] = mapped_column(String(16))
    last4: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16))


class TransactionRow(Base):
    __tablename__ = "transactions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    posted_on: Mapped[date]
    description: Mapped[str] = mapped_column(String(120))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class CallRow(Base):
    __tablename__ = "calls"
    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    caller_id: Mapped[str | None] = mapped_column(String(CALLER_ID_LENGTH), nullable=True, index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(24), nullable=True)
    queue: Mapped[str | None] = mapped_column(String(QUEUE_NAME_LENGTH), nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    resolved: Mapped[bool | None] = mapped_column(nullable=True)  # an agent's verdict (FCR)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)  # the header, then the full to_dict()


class TurnRow(Base):
    __tablename__ = "turns"
    __table_args__ = (Index("uq_turns_call_seq", "call_id", "seq", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    turn: Mapped[dict[str, Any]] = mapped_column(JSON)


class TaskRow(Base):
    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # callback | voicemail
    caller_id: Mapped[str | None] = mapped_column(String(CALLER_ID_LENGTH), nullable=True)
    call_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    queue: Mapped[str | None] = mapped_column(String(QUEUE_NAME_LENGTH), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    recording: Mapped[str | None] = mapped_column(Text, nullable=True)  # voicemail WAV path, any length (0005)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AgentStateRow(Base):
    __tablename__ = "agent_states"
    name: Mapped[str] = mapped_column(String(AGENT_NAME_LENGTH), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    call_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class QueueEntryRow(Base):
    """A caller waiting for a person. One per call (unique), taken by exactly one agent. Tied to
    the worker holding the caller's line: when it dies the entry is `dropped`, and the same caller
    calling again soon takes over its place (`kept_from`)."""

    __tablename__ = "queue_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    queue: Mapped[str] = mapped_column(String(QUEUE_NAME_LENGTH), index=True)
    rank: Mapped[int] = mapped_column(Integer)  # 0 vip, 1 high, 2 normal: served in this order
    priority: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # waiting | taken | abandoned (hung up) | callback | dropped (line lost with its worker) | rejoined
    status: Mapped[str] = mapped_column(String(16), index=True)
    enqueued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    taken_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    agent: Mapped[str | None] = mapped_column(String(AGENT_NAME_LENGTH), nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    caller_id: Mapped[str | None] = mapped_column(String(CALLER_ID_LENGTH), nullable=True, index=True)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    kept_from: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the dropped entry it took over


class CounterRow(Base):
    """Shared counters (round-robin pointers) so every worker continues the same sequence."""

    __tablename__ = "counters"
    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class WorkerRow(Base):
    """A process writing calls; its heartbeat tells others whether its unfinished calls are live."""

    __tablename__ = "workers"
    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime)


class UserRow(Base):
    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(AGENT_NAME_LENGTH), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # agent | supervisor
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, salted
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PinFailureRow(Base):
    """One failed PIN check; `customer_key` is a one-way hash of the number (voicebot.store.lockout)."""

    __tablename__ = "pin_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
