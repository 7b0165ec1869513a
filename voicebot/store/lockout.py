"""PIN guessing across calls: failed PIN checks are kept per customer number (hashed, never the
number itself), so a caller who hangs up after two wrong PINs and calls again keeps counting.
The flow asks `failures_since` before it checks a PIN and locks the number (routes to a person)
once too many came within the window.

Self-contained: its own table on the shared SQLAlchemy Base (created on first use), until the
schema moves to migrations. An in-memory variant serves stores without SQL."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Protocol

from sqlalchemy import DateTime, Engine, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from voicebot.store.models import Base

_KEY_SALT = b"voicebot-pin-lockout:"


def customer_key(customer_id: str) -> str:
    """What the table stores instead of the customer number (a one-way hash)."""
    return hashlib.sha256(_KEY_SALT + customer_id.encode()).hexdigest()


class PinFailureRow(Base):
    __tablename__ = "pin_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Lockout(Protocol):
    def record_failure(self, customer_id: str, at: datetime) -> None: ...

    def failures_since(self, customer_id: str, since: datetime) -> int: ...

    def clear(self, customer_id: str) -> None: ...


class SqlLockout:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        Base.metadata.create_all(engine, tables=[PinFailureRow.__table__])

    def record_failure(self, customer_id: str, at: datetime) -> None:
        with Session(self.engine) as s:
            s.add(PinFailureRow(customer_key=customer_key(customer_id), at=_utc(at)))
            s.commit()

    def failures_since(self, customer_id: str, since: datetime) -> int:
        query = select(func.count()).select_from(PinFailureRow).where(
            PinFailureRow.customer_key == customer_key(customer_id), PinFailureRow.at >= _utc(since))
        with Session(self.engine) as s:
            return int(s.scalar(query) or 0)

    def clear(self, customer_id: str) -> None:
        with Session(self.engine) as s:
            s.execute(delete(PinFailureRow).where(PinFailureRow.customer_key == customer_key(customer_id)))
            s.commit()


class MemoryLockout:
    def __init__(self) -> None:
        self._at: dict[str, list[datetime]] = {}

    def record_failure(self, customer_id: str, at: datetime) -> None:
        self._at.setdefault(customer_key(customer_id), []).append(at)

    def failures_since(self, customer_id: str, since: datetime) -> int:
        return sum(t >= since for t in self._at.get(customer_key(customer_id), []))

    def clear(self, customer_id: str) -> None:
        self._at.pop(customer_key(customer_id), None)


def _utc(at: datetime) -> datetime:
    """SQLite keeps no offset: every time is stored and compared as naive UTC."""
    return at.astimezone(timezone.utc).replace(tzinfo=None)


def lockout_for(store: object) -> Lockout:
    """The lockout table beside a SQL store (shared by every call on that database)."""
    engine = getattr(store, "engine", None)  # CrmWebhookStore forwards attributes to its store
    return SqlLockout(engine) if isinstance(engine, Engine) else MemoryLockout()
