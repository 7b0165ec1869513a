"""One media thread for every call of a worker: one 20 ms clock, one loop over the calls.

Each call used to have its own thread, woken by its own 20 ms timer and by each of its caller's
packets: at 12 calls, ~1,200 thread wake-ups a second and twelve threads taking turns at the GIL.
With one thread (and table-driven G.711) the whole worker spent ~18 % less CPU per call for the
same calls (docs/sip-concurrency.md). Here one thread does it for all: it sleeps on one inbox until the next
tick, handles what the event loop hands it the moment it arrives (caller frames, keys, hang-ups,
whichever call they are for), and on every tick steps each call once (silence fill, one 20 ms
bot frame read and sent). A call's step never waits on a model, the store or TTS (those run on
the worker pool), so one call cannot hold up another's audio; a call whose step raises is taken
off the clock and ended alone.

The call's side of the contract (`SipCall`): `began()` when it joins, `handle(kind, value)` for
each thing posted to it and `tick()` every 20 ms, both returning False once the call's audio is
over; `failed()` when one of them raised."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Protocol

from voicebot.pipeline.workers import name_os_thread

log = logging.getLogger(__name__)

TICK_S = 0.02
MAX_LATE_S = 0.2  # the thread woke this late (a loaded machine): restart the clock, do not replay
_JOIN = "join"


class Paced(Protocol):
    def began(self) -> None: ...

    def handle(self, kind: str, value: Any) -> bool: ...

    def tick(self) -> bool: ...

    def failed(self) -> None: ...


class MediaThread:
    def __init__(self, name: str = "call-media", tick_s: float = TICK_S) -> None:
        self.name, self.tick_s = name, tick_s  # named call-… for the OS: the benchmark counts it as audio path
        self._inbox: queue.SimpleQueue[tuple[Paced, str, Any]] = queue.SimpleQueue()
        self._calls: dict[int, Paced] = {}  # by id(): in the order they joined
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.late_restarts = 0  # the clock was restarted after a wake-up later than MAX_LATE_S
        self.rounds = 0  # ticks so far (each steps every call once)

    @property
    def calls(self) -> int:
        return len(self._calls)

    def join(self, call: Paced) -> None:
        """From now on `call` is stepped every tick (from any thread)."""
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        self._inbox.put((call, _JOIN, None))

    def post(self, call: Paced, kind: str, value: Any = None) -> None:
        """Hand `call` something (from any thread); it is handled at once, between ticks."""
        self._inbox.put((call, kind, value))

    def _run(self) -> None:
        name_os_thread(self.name)
        next_tick = time.monotonic()
        while True:
            if not self._calls:  # no call to pace: sleep until one joins (an idle worker never wakes)
                self._dispatch(*self._inbox.get())
                next_tick = time.monotonic()
                continue
            now = time.monotonic()
            if now < next_tick:
                try:
                    item = self._inbox.get(timeout=next_tick - now)
                except queue.Empty:
                    continue
                self._dispatch(*item)
                continue
            if now - next_tick > MAX_LATE_S:
                self.late_restarts += 1
                next_tick = now
            next_tick += self.tick_s
            self.rounds += 1
            while True:  # whatever came while the last tick ran, before this one
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                self._dispatch(*item)
            for call in list(self._calls.values()):
                self._step(call, call.tick)

    def _dispatch(self, call: Paced, kind: str, value: Any) -> None:
        if kind == _JOIN:
            self._calls[id(call)] = call
            self._step(call, call.began)
        elif id(call) in self._calls:  # else it is over: a packet or key that came after its end
            self._step(call, lambda: call.handle(kind, value))

    def _step(self, call: Paced, step: Any) -> None:
        try:
            if step() is False:
                self._calls.pop(id(call), None)
        except Exception:
            self._calls.pop(id(call), None)
            log.exception("a call's audio step failed; ending that call")
            try:
                call.failed()
            except Exception:
                log.exception("ending the failed call failed")


_shared: MediaThread | None = None
_shared_lock = threading.Lock()


def shared_media() -> MediaThread:
    """The process's media thread (a worker's calls all share one)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MediaThread()
        return _shared
