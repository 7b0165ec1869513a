"""How many cores Whisper's CTranslate2 kernels use: one for the decoder, and for the encoder two
when a core is spare right now (docs/asr.md, "Where the time goes").

The decoder's per-token products are too small to split: on two threads a decode took more wall
time and twice the CPU, even on otherwise idle cores. The encoder's products are large (a 10 s
window is 500 frames × 384 × 1,536) and split well: on two threads it ran in ~2/3 of the wall time
(57.9 → 39.5 ms on an otherwise idle machine) with bit-identical output, for ~20 % more CPU (the
second thread waits between operations). So the encoder takes the second core only when the
machine has one to spare — a lone call's turns — and stays on one thread when the cores are busy
(many calls at once), where that extra CPU would come out of the other calls.

"Busy" means other work. The recogniser's own model calls since the last look (the previous
utterance's encode and decodes) ran one at a time, so they never compete with the next encode: a
one-thread call's time counts as free, and the span of a two-thread encode is left out of the
measure (whether its second thread ran or waited for a core cannot be told apart from other work,
and counting it as free would keep the next encodes wide however busy the cores). Counted as busy,
a burst of utterances heard back to back (the benchmark) filled ~1.3 of 2 cores with them, and
any other work above ~0.2 cores kept the encoder on one thread; a live call's turns, seconds
apart, never saw it (docs/asr.md, "Where the time goes")."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator

from voicebot.envvars import env_count

# Cores free of other work beyond the one the encoder's first thread takes, worth a second thread.
# Niced background work is not free: two encoder threads next to it measured no faster (it still
# takes its share of a core, and the thread it delays holds up the other at every operation's end).
SPARE_CORES = 0.5
ALWAYS = -1.0  # `need` for "the wider encoder whatever the load" (idle-machine benchmarks)
# Looks closer together than this reuse the last verdict (the encodes of one batch).
MIN_INTERVAL_S = 0.05
MIN_TICKS = 2  # per CPU (USER_HZ, 10 ms): a look measures at least this much time, else keeps the verdict


def asr_threads() -> int:
    """CTranslate2 intra-op threads for Whisper's decoder: the one place this is decided
    (VOICEBOT_ASR_THREADS, default 1). One decode runs at a time per model (inter_threads=1) and the
    batch it carries is what shares the recogniser between calls. A second thread cost more than it
    gave on 2 cores: the decoder's per-token products are too small to split, and a thread waiting
    for a descheduled peer spins (docs/asr.md, "Where the time goes")."""
    return max(1, env_count("VOICEBOT_ASR_THREADS", 1))


def encoder_threads() -> int:
    """Intra-op threads for the encoder when a core is spare (VOICEBOT_ASR_ENCODER_THREADS, default
    2, at most the cores this process may use). Above asr_threads() the encoder runs on a second copy of the
    model (+~50 MB); 0 or 1: no copy, the encoder shares the decoder's threads."""
    return min(env_count("VOICEBOT_ASR_ENCODER_THREADS", 2), usable_cores())


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's cpuset), else all."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class SpareCores:
    """Whether the machine has had a core to spare since the last look: the cores neither idle
    (/proc/stat: idle and iowait time over all CPUs) nor running the recogniser's own one-thread
    calls (`working`) are other work's; a second encoder thread needs 1 + `need` cores free of it.
    Off Linux it answers False: the single-thread path."""

    def __init__(self, need: float = SPARE_CORES, path: str = "/proc/stat") -> None:
        self.need, self.path = need, path
        self._lock = threading.Lock()
        self._last: tuple[float, int, int] | None = None  # (monotonic time, spare ticks, all ticks)
        self._verdict = False
        self._cpus = os.cpu_count() or 1  # /proc/stat's first line sums every CPU of the machine
        self._hz = _clock_ticks()
        self._own = 0.0  # seconds of the recogniser's own one-thread calls since the last look
        self._left_out = (0, 0)  # (spare, all) ticks during its wider calls since the last look
        self.free: float | None = None  # cores free of other work at the last look (benchmark details)

    @contextlib.contextmanager
    def working(self, threads: int = 1) -> Iterator[None]:
        """The block is the recogniser's own work on `threads` cores. One thread: its wall time
        counts as free, at most the CPU time the process spent meanwhile (a call waiting for a
        core is not using one). More: the block's span is left out of the next look."""
        wall, cpu = time.perf_counter(), time.process_time()
        before = self._ticks() if threads > 1 else None
        try:
            yield
        finally:
            spent = min(time.perf_counter() - wall, time.process_time() - cpu)
            after = self._ticks() if before is not None else None
            with self._lock:
                if before is None:
                    self._own += max(0.0, spent)
                elif after is not None:
                    self._left_out = (self._left_out[0] + after[0] - before[0], self._left_out[1] + after[1] - before[1])

    def available(self) -> bool:
        if self.need <= ALWAYS:
            return True
        now = time.monotonic()
        with self._lock:
            if self._last is not None and now - self._last[0] < MIN_INTERVAL_S:
                return self._verdict
            ticks = self._ticks()
            if ticks is None:
                return False
            spare, total = ticks
            if self._last is None:  # first look: the machine since boot
                self.free = spare / total * self._cpus if total > 0 else None
            else:
                measured = total - self._last[2] - self._left_out[1]
                if measured < MIN_TICKS * self._cpus:  # too little to go on: keep the verdict, measure on
                    return self._verdict
                free = spare - self._last[1] - self._left_out[0] + self._own * self._hz
                self.free = min(1.0, max(0.0, free / measured)) * self._cpus
            self._own, self._left_out = 0.0, (0, 0)
            self._verdict = self.free is not None and self.free >= 1.0 + self.need
            self._last = (now, spare, total)
            return self._verdict

    def _ticks(self) -> tuple[int, int] | None:
        try:
            with open(self.path, encoding="ascii") as stat:
                fields = stat.readline().split()
        except OSError:
            return None
        if len(fields) < 6 or fields[0] != "cpu":
            return None
        # user nice system idle iowait irq softirq steal ...; guest time is already in user/nice
        values = [int(v) for v in fields[1:9]]
        return values[3] + values[4], sum(values)


def _clock_ticks() -> int:
    """/proc/stat's ticks per second (USER_HZ)."""
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100
