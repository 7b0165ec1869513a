"""Customer, call, queue, agent and user storage behind small Protocols; SQLite by default,
PostgreSQL for several workers.

    store = open_store()                    # var/voicebot.db, or $VOICEBOT_DB, or any SQLAlchemy URL
    store = open_store(url, demo=True)      # also the demo bank's customers (tests, `voicebot demo`)

Opening never inserts customers unless asked: a user's own database gets no demo PINs.

The Protocols import without SQLAlchemy: the flow package needs only them, and a process that loads
a flow but opens no store (`voicebot bench`'s ready probe, the flow tests) does not pay SQLAlchemy's
import (~0.3 CPU s). `SqlStore` and `open_store` bring it in when used."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicebot.errors import ConfigError, os_reason
from voicebot.store.protocols import (
    AgentState, AgentStore, CallStore, Card, Customer, CustomerStore, QueueStore, Store, StoreUnavailable,
    TaskStore, Transaction,
)

if TYPE_CHECKING:
    from voicebot.store.sql import SqlStore

DEFAULT_DB = "var/voicebot.db"

__all__ = ["AgentState", "AgentStore", "CallStore", "Card", "Customer", "CustomerStore", "QueueStore",
           "SqlStore", "Store", "StoreUnavailable", "TaskStore", "Transaction", "open_store", "resolve_url", "using_database",
           "shown_url"]


def resolve_url(url: str | None = None) -> str:
    """A SQLAlchemy URL from an explicit URL, a bare file path, $VOICEBOT_DB or the default file."""
    url = url or os.environ.get("VOICEBOT_DB") or DEFAULT_DB
    if "://" in url:
        return url
    if Path(url).is_dir():
        raise ConfigError(f"database {url}: is a directory, not a database file")
    folder = Path(url).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"database {url}: cannot create its folder {folder}: {os_reason(exc)}") from None
    if not os.access(folder, os.W_OK | os.X_OK):  # SQLite keeps its -wal and -shm files (and voicebot its key and spool) there
        raise ConfigError(f"database {url}: cannot write in its folder {folder} (permission denied)")
    return f"sqlite:///{url}"


def shown_url(url: str) -> str:
    """`url` fit to print: a password in it is replaced by ***."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    return url if parsed.password is None else parsed.render_as_string(hide_password=True)


@contextmanager
def using_database(url: str):
    """Turns what goes wrong connecting to or writing `url` (a typo in the URL, a server that is
    down, a file that is not a database, a read-only one) into one ConfigError naming the
    database, its password hidden. For a command's whole use of the store, or a process's start."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    try:
        yield
    except NoSuchModuleError:
        kind = url.partition("://")[0]
        raise ConfigError(f"database {shown_url(url)}: unknown kind {kind!r} (give a file path, "
                          "sqlite:///FILE or postgresql+psycopg://USER@HOST/NAME)") from None
    except ArgumentError as exc:
        raise ConfigError(f"database {shown_url(url)}: {exc}") from None
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        raise ConfigError(f"database {shown_url(url)}: cannot use it: {reason}") from None
    except StoreUnavailable as exc:  # the same errors, from a store operation a call needs
        raise ConfigError(f"database {shown_url(url)}: cannot use it: {exc.detail or exc.error}") from None


def open_store(url: str | None = None, demo: bool = False) -> SqlStore:
    """Connect and migrate the schema to the latest revision; with `demo`, insert the demo
    customers too (idempotent)."""
    from sqlalchemy.orm import Session

    from voicebot.store.schema import make_engine, migrate
    from voicebot.store.seed import seed_demo
    from voicebot.store.sql import SqlStore

    url = resolve_url(url)
    with using_database(url):
        engine = make_engine(url)
        migrate(engine)
        if demo:
            with Session(engine) as session:
                seed_demo(session)
    return SqlStore(engine)


def __getattr__(name: str) -> Any:
    if name == "SqlStore":  # imported on first use (SQLAlchemy), see the module docstring
        from voicebot.store.sql import SqlStore

        return SqlStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
