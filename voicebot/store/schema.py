"""Engines and schema: SQLite in WAL mode with a busy timeout and write-ahead transactions, and
Alembic migrations run under a lock so several workers starting at once migrate exactly once."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, text

from voicebot.errors import ConfigError, os_reason
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:  # Alembic (~0.5 s to import) loads only when a schema is actually migrated
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0005"
BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 5  # PostgreSQL, unless the URL says `?connect_timeout=N`
_PG_LOCK_KEY = 0x766F6963  # "voic": one advisory lock id for voicebot's migrations


def make_engine(url: str) -> Engine:
    # hide_parameters: a failed statement's error (logged, shown in reports) would otherwise carry
    # its values, e.g. the customer number a caller gave, `[parameters: ('12345678',)]`
    if not url.startswith("sqlite"):
        # A server that stops answering (a network partition) would hold a connection attempt
        # for the OS's TCP timeout (minutes) while a caller waits; after this the write is spooled.
        args = {} if "connect_timeout" in url else {"connect_timeout": CONNECT_TIMEOUT_S}
        return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args=args)
    memory = url in ("sqlite://", "sqlite:///:memory:")
    kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
                    "hide_parameters": True}
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # pysqlite's own BEGIN is deferred; ours is below
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        # Take the write lock at BEGIN: a deferred transaction that reads and then writes can fail
        # at once with "database is locked" when another connection wrote meanwhile; an immediate
        # one waits its turn (busy timeout) instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def alembic_config(connection=None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _migration_lock(engine: Engine):
    """One migrator at a time: a PostgreSQL advisory lock, or a lock file beside the SQLite file."""
    database = engine.url.database
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()
    elif engine.dialect.name == "sqlite" and database and database != ":memory:":
        with _lock_file(Path(f"{database}.migrate.lock")) as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    else:
        yield


def _lock_file(path: Path):
    """The lock file, made if missing; one another user made is locked read-only (flock needs no
    write access). A folder that forbids both is a ConfigError naming it."""
    try:
        return open(path, "a+")
    except PermissionError:
        try:
            return open(path)
        except OSError as exc:
            raise ConfigError(f"database {path.with_suffix('').with_suffix('')}: cannot take the migration "
                              f"lock {path} ({os_reason(exc)})") from None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, "alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest revision (a no-op when it is there already)."""
    if current_revision(engine) == HEAD:
        return
    with _migration_lock(engine):
        if current_revision(engine) == HEAD:  # another worker did it while we waited
            return
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                # Table rebuilds must not trip foreign keys; the pragma only works outside a transaction.
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
            from alembic import command

            command.upgrade(alembic_config(conn), "head")
            conn.commit()
            if engine.dialect.name == "sqlite":
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
