"""The store operations a call needs within a turn — reads (a PIN check, a balance, the agents'
states) and the writes that are not the call's own record (an agent claim, the PIN lockout's count,
a card's status) — raise the store's own `StoreUnavailable` when the database fails, never
SQLAlchemy's errors: the flow knows only the Store Protocol, and tells the caller and hands them
to a person on it (voicebot/flow/outage.py). The call record's writes are spooled instead
(voicebot.store.spool) and never raise.

SQLAlchemy is imported only when an operation fails: the PIN lockout module, which uses this, is
imported by every flow engine, with or without a SQL store."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from voicebot.store.protocols import StoreUnavailable

Method = TypeVar("Method", bound=Callable[..., Any])


def store_operation(method: Method) -> Method:
    """Any SQLAlchemy error of `method` (every driver error is wrapped in one: psycopg's and
    sqlite3's alike; a pool timeout is one too) becomes StoreUnavailable naming the store class
    and method; anything else (a bug) goes through unchanged."""

    @functools.wraps(method)
    def operation(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            from sqlalchemy.exc import SQLAlchemyError

            if not isinstance(exc, SQLAlchemyError):
                raise
            from voicebot.store.spool import database_error

            raise StoreUnavailable(f"{type(self).__name__}.{method.__name__}", type(exc).__name__,
                                   database_error(exc)) from exc

    return operation  # type: ignore[return-value]
