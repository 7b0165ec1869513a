"""SQLAlchemy tables. Portable types only (no SQLite- or PostgreSQL-specific SQL) so the same
models serve both backends."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


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
    caller_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    started_at: Mapped[str] = mapped_column(String(40))  # ISO 8601 with offset: portable, sortable
    ended_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(24), nullable=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)  # the full to_dict() once finished


class TurnRow(Base):
    __tablename__ = "turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    turn: Mapped[dict[str, Any]] = mapped_column(JSON)


class TaskRow(Base):
    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # callback | voicemail
    caller_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    call_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    queue: Mapped[str | None] = mapped_column(String(32), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    recording: Mapped[str | None] = mapped_column(String(255), nullable=True)  # voicemail WAV path
    created_at: Mapped[str] = mapped_column(String(40))


class AgentStateRow(Base):
    __tablename__ = "agent_states"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    since: Mapped[str] = mapped_column(String(40))
    until: Mapped[str | None] = mapped_column(String(40), nullable=True)
