"""The bounded pool every call in the process shares for recognition, understanding, the flow's
store and webhook calls and synthesis, and the `Strand` that runs one call's jobs in order on it.

Recognition does not run on these workers' own cores: a worker hands its utterance to the process's
one decoder thread (voicebot/pipeline/batching.py), which decodes the turns of several calls in one
batched pass, and waits. So the pool has a worker per core for NLU, the flow and Piper, plus one per
request the decoder's queue can hold: fewer, and concurrent turns could never fill a batch, and
jobs waiting for the decoder or the synthesizer could hold every worker while another call's turn
waited for one. A waiting worker
costs no CPU; MiniLM runs on one onnxruntime thread (voicebot.nlu.embedder.nlu_threads) and Whisper's
intra-op threads are set in one place (voicebot/asr/threads.py)."""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from voicebot.envvars import env_count

log = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


# glibc malloc settings (mallopt parameter numbers from malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
MALLOC_ARENAS = 2
# Fixed (not glibc's rising threshold) but above CTranslate2's per-decode buffers: it allocates
# every intermediate with posix_memalign and frees it after the op (logits 1 MB a beam step, the
# encoder's attention scores 6 MB for a 10 s window). At 128 KB / 256 KB each of those was a fresh
# mmap, page-faulted and zeroed: 2.4 M page faults instead of 70 k for 6 utterances, and Whisper
# took twice the CPU in any process that had loaded a Stack (docs/asr.md, "Where the time goes").
MALLOC_MMAP_BYTES = 8 * 1024 * 1024
MALLOC_TRIM_BYTES = 2 * MALLOC_MMAP_BYTES  # glibc's own ratio; a lower one trims and re-faults the heap each op
_tuned = False


def tune_malloc() -> bool:
    """Keep freed audio buffers from staying in the process: every call's thread otherwise gets a
    malloc arena of its own, and glibc raises its mmap threshold after the first large free, so
    turn-sized numpy arrays land in those arenas and their pages are never given back. Measured as
    the RSS delta of four paced calls (voicebot.bench.latency) held after they ended: 22 MB per
    call → 4–5 MB (docs/realtime.md). Called before calls start (Stack.load); a no-op off glibc. The settings are
    the ones the MALLOC_ARENA_MAX / MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ variables set."""
    global _tuned
    if _tuned:
        return True
    if (libc := glibc()) is None:
        return False
    _tuned = all(libc.mallopt(param, value) == 1 for param, value in (
        (_M_ARENA_MAX, MALLOC_ARENAS), (_M_MMAP_THRESHOLD, MALLOC_MMAP_BYTES), (_M_TRIM_THRESHOLD, MALLOC_TRIM_BYTES)))
    return _tuned


# The decoder's idle moments hand memory back only once the process has grown this much since
# the decode buffers were last back in place: a trim at every idle moment cost the next decode
# ~6,500 page faults (+7 % CPU, +13 % wall on 2 busy cores: docs/asr.md), and a lone call's
# every turn paid it — the early decode of a turn follows seconds of the bot talking.
TRIM_SLACK_BYTES = 8 * 1024 * 1024  # bounds what an idle process holds beyond its decode buffers
_trim_lock = threading.Lock()
_resident_after_trim: int | None = None  # RSS at the first idle moment after the last trim


def trim_malloc() -> bool:
    """Give the free pages of every malloc arena back to the system (glibc's malloc_trim) when the
    process holds more than TRIM_SLACK_BYTES above its size at the first idle moment after the last
    trim (its decode buffers faulted in again by then). The decoder thread calls this whenever its
    queue runs dry (voicebot/pipeline/batching.py): the 8 MB mmap threshold keeps freed buffers in
    the arenas, and without trims a soak held 720 MB against 596 MB. A steady process keeps its
    decode buffers (no page faults per decode); one that grows is trimmed within TRIM_SLACK_BYTES.
    True when it trimmed; a no-op off glibc or before tune_malloc."""
    global _resident_after_trim
    if not _tuned:
        return False
    with _trim_lock:
        resident = resident_bytes()
        if _resident_after_trim is None:
            _resident_after_trim = resident
            return False
        if resident - _resident_after_trim <= TRIM_SLACK_BYTES:
            return False
        glibc().malloc_trim(0)
        _resident_after_trim = None
        return True


def resident_bytes() -> int:
    """The process's resident set size (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@functools.cache
def glibc():
    """The C library's handle, opened once (None off glibc): malloc settings, trims, thread names."""
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def name_os_thread(name: str | None = None) -> None:
    """Give this thread its Python name (or `name`) for the OS too (Linux: `top -H`,
    /proc/PID/task/TID/comm). A new thread inherits its creator's OS name: the pool's workers and
    the render threads, started from a call's audio path, were all called after it, and the
    benchmark, which tells the audio path apart by these names, counted their work as audio."""
    if (libc := glibc()) is not None:
        libc.prctl(15, (name or threading.current_thread().name).encode()[:15], 0, 0, 0)  # PR_SET_NAME


def worker_count() -> int:
    """A worker per core for the CPU work, plus one for every request the decoder's queue can hold:
    a worker waiting for the decoder or for a render slot costs no CPU but holds its thread. With
    cores + MAX_BATCH (10 here), 12 SIP calls' waiting renders and speculative decodes took every
    worker, and a turn's job waited up to 1.4 s for one (`handoff`, docs/sip-concurrency.md).
    Threads start only as jobs need them (ThreadPoolExecutor), so an idle worker holds few."""
    from voicebot.pipeline.batching import MAX_WAITING

    return max(1, env_count("VOICEBOT_WORKERS", 0) or (os.cpu_count() or 1) + MAX_WAITING)


def shared_pool() -> ThreadPoolExecutor:
    """The process's one worker pool (created on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(worker_count(), thread_name_prefix="voicebot-worker",
                                       initializer=name_os_thread)
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
