"""The bounded pool every call in the process shares for recognition, understanding, the flow's
store and webhook calls and synthesis, and the `Strand` that runs one call's jobs in order on it.

Two workers on two cores: while one call's Whisper decode runs, another call's NLU or Piper render
proceeds. Concurrent decodes do not oversubscribe the cores: CTranslate2 runs one Whisper
translation at a time per model (inter_threads=1, its default) with the cores as intra-op threads,
and MiniLM runs on one onnxruntime thread (voicebot.nlu.embedder.nlu_threads)."""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def worker_count() -> int:
    return max(1, int(os.environ.get("VOICEBOT_WORKERS", "0")) or (os.cpu_count() or 1))


def shared_pool() -> ThreadPoolExecutor:
    """The process's one worker pool (created on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(worker_count(), thread_name_prefix="voicebot-worker")
        return _pool


class Strand:
    """One call's jobs, run one after another on the shared pool (the engine is not thread-safe and
    a caller's turns must be answered in order). `inline=True` runs each job inside `submit`: the
    blocking path the Session had before, kept as the benchmark's baseline."""

    def __init__(self, pool: ThreadPoolExecutor | None = None, inline: bool = False) -> None:
        self._pool, self.inline = pool, inline
        self._jobs: deque[Callable[[], None]] = deque()
        self._busy = False
        self._cond = threading.Condition()
        self.errors: list[BaseException] = []

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._busy and not self._jobs

    def submit(self, job: Callable[[], None]) -> None:
        if self.inline:
            self._run_one(job)
            return
        with self._cond:
            self._jobs.append(job)
            if self._busy:
                return
            self._busy = True
        (self._pool or shared_pool()).submit(self._drain)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted job has run (replays use it as their virtual clock's tick)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy and not self._jobs, timeout)

    def _drain(self) -> None:
        while True:
            with self._cond:
                if not self._jobs:
                    self._busy = False
                    self._cond.notify_all()
                    return
                job = self._jobs.popleft()
            self._run_one(job)

    def _run_one(self, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception as exc:  # one broken turn is logged and kept; the call's audio goes on
            log.exception("call job failed")
            self.errors.append(exc)
