"""Backends chosen by name (configuration, not `if` chains): a module registers a factory under a
name; `get(name)` imports the module on first use and keeps one instance per (name, options), so
models load once per process and one backend's heavy imports never slow another's start-up."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

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
