"""Recognition shared by every call of a process: one decoder thread, a bounded queue, and batches.

Every call's worker (turn decodes and speculative decodes at a pause) hands its utterance to one
`DecodeBatcher` and waits. The decoder thread takes whatever is waiting — up to MAX_BATCH, after a
short gather window when it finds only one — and runs it through the recogniser's
`transcribe_many` in one pass (the gather window only while other calls' decodes are about: a
lone call's decode starts at once), so N calls that finish a turn together pay for one batched decode
instead of N queued ones (Whisper: one `generate` over the batch). Results go back to each request's
own future, so a call's decodes complete in the order it asked for them. The queue is bounded:
past MAX_WAITING, a caller's worker blocks until there is room (memory stays bounded), and
`waiting` is the depth admission control reads (voicebot/transports/sip/admission.py)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from typing import Any

from voicebot.asr.base import FREE, Hints, partials_at_end
from voicebot.audio import Audio
from voicebot.envvars import env_count
from voicebot.events import Transcript
from voicebot.pipeline.workers import name_os_thread, trim_malloc

log = logging.getLogger(__name__)

# 4 and 8 utterances per generate cost 27% and 24% less CPU than one by one on 2 cores (docs/asr.md);
# a larger batch only makes its first caller wait for the last one's decode.
MAX_BATCH = 8
MAX_WAITING = 64
GATHER_S = 0.01  # a decoder that had company waits this long for more before decoding a lone request
# The window is paid only when the last batch had company or requests arrived while it ran: a lone
# call's every turn waited GATHER_S for nobody (scripts/bench_latency.py).


class DecodeBatcher:
    """A Recognizer that batches concurrent `transcribe` calls into the inner recogniser's
    `transcribe_many`. Thread-safe: any number of workers may call it at once."""

    shared = True  # admission control counts its queue and adds no lock of its own

    def __init__(self, inner: Any, max_batch: int = MAX_BATCH, max_waiting: int = MAX_WAITING,
                 gather_s: float = GATHER_S) -> None:
        self.inner, self.name = inner, inner.name
        self.max_batch, self.max_waiting, self.gather_s = max(1, max_batch), max(1, max_waiting), gather_s
        self._queue: deque[tuple[Audio, Hints, Future]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running = 0  # requests in the batch being decoded now
        self._company = False  # the last batch had company, or requests queued while it ran
        self.batches: list[int] = []  # size of each batch decoded (the benchmark reports them)

    @property
    def version(self) -> str | None:  # the inner recogniser's (asr_version)
        return getattr(self.inner, "version", None)

    @property
    def waiting(self) -> int:
        """Requests queued or being decoded."""
        with self._cond:
            return len(self._queue) + self._running

    def transcribe(self, audio: Audio, hints: Hints = FREE) -> Transcript:
        return self.submit(audio, hints).result()

    def submit(self, audio: Audio, hints: Hints = FREE) -> Future:
        future: Future = Future()
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._decode_forever, name="voicebot-decoder", daemon=True)
                self._thread.start()
            self._cond.wait_for(lambda: len(self._queue) < self.max_waiting)
            self._queue.append((audio, hints, future))
            self._cond.notify_all()
        return future

    def partials(self, frames: Iterable[Audio], hints: Hints = FREE) -> Iterator[str]:
        return partials_at_end(self, frames, hints)

    def __getattr__(self, name: str) -> Any:  # the inner recogniser's settings (beam_size, …)
        return getattr(self.inner, name)

    # ---- the decoder thread ------------------------------------------------------------------
    def _decode_forever(self) -> None:
        name_os_thread()  # not the name of the call's thread that started it
        while True:
            batch = self._next_batch()
            try:
                self._decode(batch)
            finally:
                with self._cond:
                    self._running = 0
                    idle = not self._queue
                    self._company = len(batch) > 1 or not idle
                    self._cond.notify_all()
            if idle:
                # Nothing waits: hand the decode's freed buffers back now rather than hold them
                # (~30 MB; a soak's RSS was 720 vs 596 MB without), at ~3 ms here and ~6,000 page
                # faults in the next decode. Under load the queue is rarely empty and nothing is paid.
                trim_malloc()

    def _next_batch(self) -> list[tuple[Audio, Hints, Future]]:
        with self._cond:
            self._cond.wait_for(lambda: bool(self._queue))
            if len(self._queue) == 1 and self.gather_s > 0 and self._company:
                deadline = time.monotonic() + self.gather_s
                self._cond.wait_for(lambda: len(self._queue) > 1 or time.monotonic() >= deadline, self.gather_s)
            batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
            self._running = len(batch)
            self._cond.notify_all()  # room in the queue
        return [(a, h, f) for a, h, f in batch if f.set_running_or_notify_cancel()]

    def _decode(self, batch: list[tuple[Audio, Hints, Future]]) -> None:
        if not batch:
            return
        self.batches.append(len(batch))
        try:
            results = self.inner.transcribe_many([(a, h) for a, h, _ in batch])
        except Exception:  # one bad utterance must not fail the others: hear them one by one
            log.exception("batched decode of %d failed; decoding one by one", len(batch))
            for audio, hints, future in batch:
                try:
                    future.set_result(self.inner.transcribe(audio, hints))
                except Exception as exc:
                    future.set_exception(exc)
            return
        for (_, _, future), result in zip(batch, results):
            future.set_result(result)


_batchers: dict[int, DecodeBatcher] = {}
_lock = threading.Lock()


def shared_recognizer(recognizer: Any) -> Any:
    """The process's one DecodeBatcher around `recognizer` when it can decode batches (Whisper);
    other backends are returned as they are."""
    if recognizer is None or isinstance(recognizer, DecodeBatcher) or not getattr(recognizer, "batched", False):
        return recognizer
    with _lock:
        batcher = _batchers.get(id(recognizer))
        if batcher is None or batcher.inner is not recognizer:
            # VOICEBOT_DECODE_BATCH=1: one utterance per decode (the benchmark's same-run baseline)
            size = env_count("VOICEBOT_DECODE_BATCH", 0) or MAX_BATCH
            batcher = _batchers[id(recognizer)] = DecodeBatcher(recognizer, max_batch=size)
        return batcher
