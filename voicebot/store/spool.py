"""A call record is never lost to a database failure. When a write of a call's record (its header,
a turn, the finished record, a callback or voicemail task, its caller joining or leaving a queue)
fails in the database — PostgreSQL gone, the SQLite file locked or read-only — the write is
appended instead to a local spool file, one
JSON object per line, fsync'd, and one warning line names the database (password hidden), its
error and the spool. Every later write of that call goes to the spool too, so the call's writes
stay in order; the call itself goes on as if nothing happened.

The spool holds exactly what the store's rows would hold (the records are masked before they reach
the store: no PIN, no customer number). It lives beside the SQLite file (`<db file>.spool.jsonl`)
or, for a server database, in `var/records.spool.jsonl`, mode 0600.

`flush` writes the spooled records into the database, in order, idempotently (a header never
reopens a call the spool has finished or someone closed; turns are unique per call and sequence;
a task already there is not added twice; a call joins a queue once; a queue entry leaves only
while still waiting), then empties the spool. It runs when a worker starts, at each heartbeat of a
worker while the spool is not empty, and with `voicebot db flush-spool`.

A worker can die with writes in the spool, a caller it held in a queue among them. A worker's start
and heartbeat write the spool in before they recover dead workers, so that caller's entry is in
the database when its worker's are dropped (voicebot.store.workers). An entry written in after its
worker was recovered all the same (by `voicebot report`, by a worker on another host, between a
flush and a recovery) is dropped by the flush itself (`SqlStore.flush_spool`): its worker is no
longer registered, and no agent must take a caller whose line is gone."""

from __future__ import annotations

import fcntl
import functools
import inspect
import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from voicebot.errors import ConfigError, os_reason

log = logging.getLogger(__name__)
SERVER_SPOOL = Path("var") / "records.spool.jsonl"
# a call's record, its tasks, its caller joining a queue (a person takes the call once the database
# is back) and leaving one (else an agent would take a caller long gone)
WRITES = ("start_call", "add_turn", "finish_call", "add_task", "enqueue", "leave_queue")


def spool_file(url: Any) -> Path | None:
    """Where the records a database behind `url` (a SQLAlchemy URL) could not take are kept; None
    for an in-memory database (nothing outlives its process anyway)."""
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or "mode=memory" in str(url):
            return None
        return Path(database).absolute().with_name(Path(database).name + ".spool.jsonl")
    return SERVER_SPOOL.absolute()  # where the process started, whatever it changes to later


def database_error(exc: SQLAlchemyError) -> str:
    """The first line of what the database said (never a statement's values: hide_parameters)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0]


def _call_of(name: str, args: tuple) -> str | None:
    if name in ("add_turn", "leave_queue"):
        return args[0]
    return (args[0] or {}).get("call_id")


def spooled(method: Callable) -> Callable:
    """A store write that goes to the spool when the database fails (see the module docstring).
    A `now` the caller left out is fixed when the write is made, so a spooled write keeps its time."""
    takes_now = "now" in inspect.signature(method).parameters

    @functools.wraps(method)
    def write(self, *args: Any, **kwargs: Any) -> Any:
        if takes_now and len(args) < 3 and kwargs.get("now") is None:
            kwargs["now"] = datetime.now(timezone.utc).isoformat()
        return self.spool.write(method.__name__, lambda: method(self, *args, **kwargs), args, kwargs,
                                self.worker_id)

    return write


class Spool:
    def __init__(self, path: Path | None, database: str) -> None:
        self.path, self.database = path, database  # database: its URL as shown (password hidden)
        self._held: set[str] = set()  # calls whose writes go to the spool from now on
        self._lock = threading.Lock()

    @property
    def pending(self) -> bool:
        return self.path is not None and self.path.exists() and self.path.stat().st_size > 0

    def write(self, name: str, write: Callable[[], Any], args: tuple, kwargs: dict[str, Any],
              worker_id: str | None) -> Any:
        call_id = _call_of(name, args)
        if self.path is None or call_id not in self._held:
            try:
                return write()
            except SQLAlchemyError as exc:
                if self.path is None:
                    raise
                self._warn(call_id, exc)
        with self._lock:
            if call_id is not None:
                self._held.add(call_id)
            try:
                self._append({"op": name, "args": list(args), "kwargs": kwargs, "worker": worker_id, "db": self.database,
                              "at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
            except OSError as exc:  # nowhere left to keep it: say so loudly, the call goes on
                log.error("call %s: the database failed and its spool %s cannot be written (%s): this %s "
                          "is lost", call_id, self.path, exc.strerror or exc, name)

    def _warn(self, call_id: str | None, exc: SQLAlchemyError) -> None:
        if call_id in self._held:
            return
        log.warning("database %s failed writing call %s (%s): its record goes to %s; "
                    "`voicebot db flush-spool` (or the next worker start) writes it into the database",
                    self.database, call_id, database_error(exc), self.path)

    def _append(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, default=str, ensure_ascii=False) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one whole line at a time, against a flush or another worker
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def flush(self, store: Any) -> set[str]:
        """Write the spooled entries for this database into `store`, in order, and take them out
        of the spool; returns the calls whose records were written. Entries for another database
        stay; so does a write the database refuses for good (a value its schema cannot hold), with
        a warning, while the others go in. When the database is still unreachable, what was not
        written stays and its error is raised."""
        if not self.pending:
            return set()
        try:
            handle = open(self.path, "r+", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"spool {self.path}: cannot open it ({os_reason(exc)})") from None
        kept, written, down = [], set(), None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            for number, line in enumerate(handle.read().splitlines(), 1):
                entry = _entry(line, self.path, number) if line.strip() else {"db": None}
                if down is not None or entry.get("db") != self.database:
                    kept.append(line)
                    continue
                try:
                    _replay(store, entry["op"], entry["args"], entry.get("kwargs") or {}, entry.get("worker"))
                    written.add(_call_of(entry["op"], tuple(entry["args"])))
                except (OperationalError, InterfaceError) as exc:  # still down: the rest waits, in order
                    down = exc
                    kept.append(line)
                except (SQLAlchemyError, KeyError, TypeError, ValueError) as exc:  # refused, or edited by hand
                    log.warning("%s:%d: database %s refuses this spooled write (%s); left in the spool",
                                self.path, number, self.database, database_error(exc))
                    kept.append(line)
            handle.seek(0)
            handle.truncate()
            handle.write("".join(line + "\n" for line in kept if line.strip()))
            handle.flush()
            os.fsync(handle.fileno())
        if down is not None:
            raise down
        with self._lock:
            self._held.clear()
        if written:
            log.info("wrote %d spooled call record(s) from %s into database %s", len(written), self.path,
                     self.database)
        return written


def _entry(line: str, path: Path, number: int) -> dict[str, Any]:
    """A spooled line; one that is not a write (cut short by a crash, edited by hand) is kept in
    the spool, with a warning, rather than stop the others."""
    try:
        entry = json.loads(line)
        if isinstance(entry, dict) and entry.get("op") in WRITES and isinstance(entry.get("args"), list):
            return entry
    except ValueError:
        pass
    log.warning("%s:%d: not a spooled write; left in the spool", path, number)
    return {}


def _replay(store: Any, op: str, args: list, kwargs: dict[str, Any], worker_id: str | None) -> None:
    """One spooled write, made idempotent: the spool may be flushed twice (a crash between writing
    and emptying it) and a call's header may meet a record that is already closed."""
    if op == "start_call" and store.call_finished(args[0]["call_id"]):
        return  # finished by a later spooled write, or closed as abandoned meanwhile: keep that
    if op == "add_task" and store.has_task(args[0]):
        return
    write = getattr(type(store), op).__wrapped__  # the database write itself, not spooled again
    if op in ("start_call", "finish_call"):  # on behalf of the worker that had the call
        kwargs = {**kwargs, "worker_id": worker_id}
    if op == "enqueue":  # held by the worker that had the caller's line (enqueue is unique per call)
        args = [{"worker_id": worker_id, **args[0]}, *args[1:]]
    write(store, *args, **kwargs)
