"""Customer, call and task storage behind small Protocols; SQLite by default.

    store = open_store()            # var/voicebot.db, or $VOICEBOT_DB, or any SQLAlchemy URL
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from voicebot.store.models import Base
from voicebot.store.protocols import (
    AgentState, AgentStore, CallStore, Card, Customer, CustomerStore, Store, TaskStore, Transaction,
)
from voicebot.store.seed import seed_demo
from voicebot.store.sql import SqlStore

DEFAULT_DB = "var/voicebot.db"

__all__ = ["AgentState", "AgentStore", "CallStore", "Card", "Customer", "CustomerStore", "SqlStore", "Store", "TaskStore",
           "Transaction", "open_store", "resolve_url"]


def resolve_url(url: str | None = None) -> str:
    """A SQLAlchemy URL from an explicit URL, a bare file path, $VOICEBOT_DB or the default file."""
    url = url or os.environ.get("VOICEBOT_DB") or DEFAULT_DB
    if "://" in url:
        return url
    Path(url).parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{url}"


def open_store(url: str | None = None, seed: bool = True) -> SqlStore:
    """Connect, create the schema if missing and insert the demo customers (idempotent)."""
    url = resolve_url(url)
    kwargs: dict = {}
    if url in ("sqlite://", "sqlite:///:memory:"):
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    Base.metadata.create_all(engine)
    _add_missing_columns(engine)
    if seed:
        with Session(engine) as session:
            seed_demo(session)
    return SqlStore(engine)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _add_missing_columns(engine) -> None:
    """Databases made by an older voicebot lack newer nullable columns; add them in place."""
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have and column.nullable:
                kind = column.type.compile(engine.dialect)
                with engine.begin() as conn:
                    conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}'))
