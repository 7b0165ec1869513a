"""Workers: each process that writes calls registers itself and keeps a heartbeat. On start, and
at every heartbeat after, a worker closes as abandoned the unfinished calls of workers that are
dead — a process on this host that no longer exists, or any worker whose heartbeat stopped — and
never a live worker's calls; the callers those workers held in a queue are `dropped` (their place
kept for when they call again: voicebot.store.queue). The spool goes in first (voicebot.store.spool),
so a caller a dead worker could only spool into a queue is dropped with the others. A recovery
removes the dead registrations before it drops the entries no registered worker holds."""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
from datetime import datetime, timedelta, timezone
from uuid import uuid4

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from voicebot.errors import ConfigError
from voicebot.store.models import CallRow, WorkerRow
from voicebot.store.spool import database_error

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 30.0  # six missed heartbeats: that worker is gone
ORPHAN_SECONDS = 3600.0  # an unfinished call no worker claimed (library use) this old is over


def _alive_here(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerMixin:
    def start_worker(self, heartbeat: bool = True) -> str:
        """Register this process, recover dead workers' calls, and keep a heartbeat (a daemon thread)."""
        now = datetime.now(timezone.utc)
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid4().hex[:8]}"
        with self._session() as s:
            s.add(WorkerRow(worker_id=self.worker_id, host=socket.gethostname(), pid=os.getpid(),
                            started_at=now, heartbeat_at=now))
            s.commit()
        # records an earlier process could not write (the database was down), then the dead
        # workers' calls: a caller a dead worker spooled into a queue is dropped with its others
        try:
            self.flush_spool()
        except (SQLAlchemyError, ConfigError) as exc:
            reason = database_error(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
            log.warning("spooled call records stay in %s: database %s: %s", self.spool.path,
                        self.spool.database, reason)
        self.recover_dead_workers(now)
        if heartbeat:
            self._stop_beat = threading.Event()
            threading.Thread(target=self._beat, name="voicebot-heartbeat", daemon=True).start()
            atexit.register(self.stop_worker)
        return self.worker_id

    def _beat(self) -> None:
        while not self._stop_beat.wait(HEARTBEAT_SECONDS):
            try:
                now = datetime.now(timezone.utc)
                with self._session() as s:
                    done = s.execute(update(WorkerRow).where(WorkerRow.worker_id == self.worker_id)
                                     .values(heartbeat_at=now))
                    if done.rowcount == 0:  # taken for dead (a stall longer than STALE_SECONDS)
                        log.warning("worker %s was taken for dead: registering again", self.worker_id)
                        s.add(WorkerRow(worker_id=self.worker_id, host=socket.gethostname(), pid=os.getpid(),
                                        started_at=now, heartbeat_at=now))
                    s.commit()
                if self.spool.pending:  # the database is back: the records it missed go in (first:
                    self.flush_spool()  # a dead worker's spooled callers are then dropped with its others)
                dead = self.dead_workers(now)
                if dead:  # another worker died: its calls end, its queued callers are dropped
                    self.recover_dead_workers(now, dead)
            except Exception as exc:  # the database may be restarting: try again next beat
                reason = database_error(exc) if isinstance(exc, SQLAlchemyError) else exc  # one line
                log.warning("heartbeat of %s failed: %s", self.worker_id, reason)

    def stop_worker(self) -> None:
        """A clean exit: stop the heartbeat and deregister (its finished calls stay)."""
        if getattr(self, "_stop_beat", None) is not None:
            self._stop_beat.set()
        if self.worker_id and not getattr(self, "_deregistered", False):
            self._deregistered = True  # once: atexit calls this again after an explicit stop
            try:
                with self._session() as s:
                    s.execute(delete(WorkerRow).where(WorkerRow.worker_id == self.worker_id))
                    s.commit()
            except SQLAlchemyError as exc:  # the database is down: the next worker takes it for dead
                log.warning("worker %s could not deregister from database %s: %s", self.worker_id,
                            self.spool.database, database_error(exc))

    def dead_workers(self, now: datetime) -> list[str]:
        host = socket.gethostname()
        stale = now - timedelta(seconds=STALE_SECONDS)
        with self._session() as s:
            rows = s.scalars(select(WorkerRow).where(WorkerRow.worker_id != self.worker_id)).all()
        return [w.worker_id for w in rows
                if w.heartbeat_at < stale or (w.host == host and not _alive_here(w.pid))]

    def recover_dead_workers(self, now: datetime | None = None, dead: list[str] | None = None) -> int:
        """Close the unfinished calls of dead workers (and old ones no worker owns) as abandoned,
        drop the queue entries they held and end those callers' calls; returns how many
        unfinished calls it closed."""
        now = now or datetime.now(timezone.utc)
        dead = self.dead_workers(now) if dead is None else dead
        orphan_before = now - timedelta(seconds=ORPHAN_SECONDS)
        # registrations go first, then whatever no registered worker holds: a spool written in by
        # another process meanwhile either lands before the drop below (and is dropped by it) or
        # finds its worker gone (and its own flush drops it); a recovery cut short after the
        # delete leaves nothing the next one cannot find
        if dead:
            with self._session() as s:
                s.execute(delete(WorkerRow).where(WorkerRow.worker_id.in_(dead)))
                s.commit()
        with self._session() as s:
            known = select(WorkerRow.worker_id)
            ids = s.scalars(select(CallRow.call_id).where(
                CallRow.ended_at.is_(None),
                or_(CallRow.worker_id.is_not(None) & CallRow.worker_id.not_in(known),
                    CallRow.worker_id.is_(None) & (CallRow.started_at < orphan_before)))).all()
        closed = self.close_abandoned(list(ids), now) if ids else 0
        dropped = self.drop_unheld(now)
        if dropped:
            log.warning("dropped %d queued caller(s) of stopped workers (their place is kept)", len(dropped))
        if closed:
            log.warning("closed %d unfinished call(s) of stopped workers as abandoned", closed)
        return closed
