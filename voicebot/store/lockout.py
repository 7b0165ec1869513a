"""PIN guessing across calls: failed PIN checks are kept per customer number (an HMAC under this
install's secret key, voicebot.store.keyed; never the number itself), so a caller who hangs up after two wrong PINs and calls again keeps counting.
The flow asks `failures_since` before it checks a PIN and locks the number (routes to a person)
once too many came within the window.

The table (`pin_failures`) is made by the store's migrations (0003); an in-memory variant serves
stores without SQL."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from voicebot.store.keyed import install_key, key_file, keyed_hash
from voicebot.store.unavailable import store_operation

if TYPE_CHECKING:  # SQLAlchemy is imported with a SQL store, not by every flow engine's import
    from sqlalchemy import Engine


class Lockout(Protocol):
    def record_failure(self, customer_id: str, at: datetime) -> None: ...

    def failures_since(self, customer_id: str, since: datetime) -> int: ...

    def clear(self, customer_id: str) -> None: ...


class SqlLockout:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._key = install_key(key_file(engine))

    def customer_key(self, customer_id: str) -> str:
        """What the table stores instead of the customer number."""
        return keyed_hash(self._key, customer_id)

    @store_operation
    def record_failure(self, customer_id: str, at: datetime) -> None:
        from sqlalchemy.orm import Session

        from voicebot.store.models import PinFailureRow

        with Session(self.engine) as s:
            s.add(PinFailureRow(customer_key=self.customer_key(customer_id), at=at))
            s.commit()

    @store_operation
    def failures_since(self, customer_id: str, since: datetime) -> int:
        from sqlalchemy import func, select
        from sqlalchemy.orm import Session

        from voicebot.store.models import PinFailureRow

        query = select(func.count()).select_from(PinFailureRow).where(
            PinFailureRow.customer_key == self.customer_key(customer_id), PinFailureRow.at >= since)
        with Session(self.engine) as s:
            return int(s.scalar(query) or 0)

    @store_operation
    def clear(self, customer_id: str) -> None:
        from sqlalchemy import delete
        from sqlalchemy.orm import Session

        from voicebot.store.models import PinFailureRow

        with Session(self.engine) as s:
            s.execute(delete(PinFailureRow).where(PinFailureRow.customer_key == self.customer_key(customer_id)))
            s.commit()


class MemoryLockout:
    def __init__(self) -> None:
        self._at: dict[str, list[datetime]] = {}
        self._key = install_key(None)

    def customer_key(self, customer_id: str) -> str:
        return keyed_hash(self._key, customer_id)

    def record_failure(self, customer_id: str, at: datetime) -> None:
        self._at.setdefault(self.customer_key(customer_id), []).append(at)

    def failures_since(self, customer_id: str, since: datetime) -> int:
        return sum(t >= since for t in self._at.get(self.customer_key(customer_id), []))

    def clear(self, customer_id: str) -> None:
        self._at.pop(self.customer_key(customer_id), None)


def lockout_for(store: object) -> Lockout:
    """The lockout table beside a SQL store (shared by every call on that database)."""
    engine = getattr(store, "engine", None)  # CrmWebhookStore forwards attributes to its store
    if engine is None:
        return MemoryLockout()
    from sqlalchemy import Engine  # a store with an engine has imported SQLAlchemy already

    return SqlLockout(engine) if isinstance(engine, Engine) else MemoryLockout()
