"""Backends chosen by name (configuration, not `if` chains): a module registers a factory under a
name; `get(name)` imports the module on first use and keeps one instance per (name, options), so
models load once per process and one backend's heavy imports never slow another's start-up."""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from voicebot.errors import ModelError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, modules: dict[str, str], default: str) -> None:
        self.kind, self.modules, self.default = kind, modules, default
        self._factories: dict[str, Callable[..., T]] = {}
        self._instances: dict[tuple, T] = {}
        # Calls share one instance; two sessions asking at once on worker threads must not load twice.
        self._lock = threading.RLock()

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = factory
            return factory

        return deco

    def names(self) -> list[str]:
        return sorted(self.modules)

    def prepare(self, name: str | None = None) -> None:
        """Import `name`'s module (not its model) on this thread: `load_together` runs factories on
        worker threads, and our own packages import each other in cycles two threads must not split."""
        name = name or self.default
        if name in self.modules and name not in self._factories:
            with self._lock:
                importlib.import_module(self.modules[name])

    def get(self, name: str | None = None, **options: object) -> T:
        name = name or self.default
        if name not in self.modules:
            raise ModelError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}")
        key = (name, tuple(sorted((k, str(v)) for k, v in options.items())))
        with self._lock:
            if key not in self._instances:
                if name not in self._factories:
                    importlib.import_module(self.modules[name])
                self._instances[key] = self._factories[name](**options)
            return self._instances[key]


log = logging.getLogger(__name__)


def load_together(*loaders: Callable[[], Any]) -> list[Any]:
    """Run model loaders at once and return their results in order. Loading a model is mostly C++
    that releases the GIL (CTranslate2, onnxruntime), so Whisper, Piper and MiniLM load side by side
    with the Python-bound work (spaCy) instead of one after another. The first loader runs on this
    thread. A loader whose lazy import met another thread's import cycle (`_DeadlockError`) is run
    again here once the others are done; any other error is raised as it would be loading in turn."""
    loaders = tuple(_timed(f) for f in loaders)
    if len(loaders) <= 1:
        return [f() for f in loaders]
    outcomes: list[Any] = []
    with ThreadPoolExecutor(max_workers=len(loaders) - 1, thread_name_prefix="voicebot-load") as pool:
        futures = [pool.submit(f) for f in loaders[1:]]
        outcomes.append(_attempt(loaders[0]))
        outcomes += [_attempt(future.result) for future in futures]
    return [loader() if outcome is _RETRY else outcome for loader, outcome in zip(loaders, outcomes)]


_RETRY = object()

# Every loader `load_together` ran in this process: (name, perf_counter at its start, wall seconds,
# CPU seconds of its thread). The cold-start benchmark reports them as the start's breakdown
# (voicebot.bench.probe); a loader's wall time beside its CPU time shows where it waited.
LOADS: list[tuple[str, float, float, float]] = []


def _timed(loader: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return loader()
        finally:
            LOADS.append((loader.__name__, started, time.perf_counter() - started, time.thread_time() - cpu))
    return run


def is_import_cycle(exc: BaseException) -> bool:
    """importlib's `_DeadlockError` (not importable by name): a lazy import met another loader
    thread's import cycle; load_together runs that loader again alone."""
    return isinstance(exc, RuntimeError) and type(exc).__name__ == "_DeadlockError"


def _attempt(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except RuntimeError as exc:
        if not is_import_cycle(exc):
            raise
        log.debug("import cycle across loader threads (%s); loading again alone", exc)
        return _RETRY


_GC_LOCK = threading.Lock()
_gc_paused = 0  # nested or concurrent loading phases
_gc_was_enabled = True
_frozen_once = False


@contextlib.contextmanager
def loading_phase() -> Iterator[None]:
    """Cyclic garbage collection paused while models load, then (the first time in a process)
    what was loaded moved out of its reach with `gc.freeze()`.

    A start builds ~270,000 long-lived objects (modules, spaCy's tables, tokenizers) and almost no
    garbage: the collector ran full passes over that growing heap all along (~0.6-1 CPU s of a
    start, holding the GIL the loaders share), and the first full pass after it would scan it all
    again during a caller's turn (~0.16 s). Frozen objects are still freed by reference counting;
    only cycles made while loading (~4,000 objects) stay. Later phases (another Stack in the same
    process) pause collection but freeze nothing, so calls' cyclic garbage is never frozen."""
    global _gc_paused, _gc_was_enabled, _frozen_once
    with _GC_LOCK:
        if _gc_paused == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_paused += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_paused -= 1
            if _gc_paused == 0:
                if not _frozen_once:
                    gc.freeze()
                    _frozen_once = True
                if _gc_was_enabled:
                    gc.enable()
