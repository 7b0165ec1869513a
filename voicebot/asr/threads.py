"""How many cores Whisper's CTranslate2 kernels use: one for the decoder, and for the encoder two
when a core is spare right now (docs/asr.md, "Where the time goes").

The decoder's per-token products are too small to split: on two threads a decode took more wall
time and twice the CPU, even on otherwise idle cores. The encoder's products are large (a 10 s
window is 500 frames × 384 × 1,536) and split well: on two threads it ran in ~2/3 of the wall time
(57.9 → 39.5 ms on an otherwise idle machine) with bit-identical output, for ~20 % more CPU (the
second thread waits between operations). So the encoder takes the second core only when the
machine has one to spare — a lone call's turns — and stays on one thread when the cores are busy
(many calls at once), where that extra CPU would come out of the other calls."""

from __future__ import annotations

import os
import threading
import time

from voicebot.envvars import env_count

# An idle share of the machine worth a second encoder thread, in cores. Niced background work does
# not count as idle: two encoder threads next to it measured no faster (it still takes its
# share of a core, and the thread it delays holds up the other at every operation's end).
SPARE_CORES = 0.5
# Looks closer together than this reuse the last verdict (the encodes of one batch).
MIN_INTERVAL_S = 0.05


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
    """Whether the machine has had a core to spare since the last look (/proc/stat: idle and
    iowait time over all CPUs). Off Linux it answers False: the single-thread path."""

    def __init__(self, need: float = SPARE_CORES, path: str = "/proc/stat") -> None:
        self.need, self.path = need, path
        self._lock = threading.Lock()
        self._last: tuple[float, int, int] | None = None  # (monotonic time, spare ticks, all ticks)
        self._verdict = False
        self._cpus = os.cpu_count() or 1  # /proc/stat's first line sums every CPU of the machine

    def available(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._last is not None and now - self._last[0] < MIN_INTERVAL_S:
                return self._verdict
            ticks = self._ticks()
            if ticks is None:
                return False
            spare, total = ticks
            if self._last is None:  # first look: the machine since boot
                self._verdict = total > 0 and spare / total * self._cpus >= self.need
            elif total > self._last[2]:
                share = (spare - self._last[1]) / (total - self._last[2])
                self._verdict = share * self._cpus >= self.need
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
