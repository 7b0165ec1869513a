"""Admission control and the models every call of a worker shares.

Calls run on their own threads, but recognition, understanding and synthesis go through one
lock per model (the recogniser: its own batching queue): on 2 cores two decodes at once only make
both late, and the number of calls waiting for the recogniser, or for the synthesizer (a personal
sentence renders for ~0.5-1 s, one at a time), is the queue depth that tells the worker it can no
longer keep turn latency. Then a new INVITE gets 503 with Retry-After (and OPTIONS probes get 503, so a proxy
stops sending calls) instead of a call that degrades everyone's."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any

from voicebot.pipeline import Stack
from voicebot.tts.base import sentences


class UrgentLock:
    """One holder at a time, the most urgent waiter next: by when it needs the result (a prompt's
    first sentence: now, its caller is waiting in silence; a later sentence: once the sentences
    before it have played), then first come. A plain Lock lets any waiter in next, so under load
    one call's answer could wait out several other calls' renders."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._queue: list[tuple[float, int]] = []  # a heap of (deadline, arrival)
        self._arrivals = itertools.count()
        self._mine = threading.local()  # what `with lock:` holds, per thread

    @contextmanager
    def hold(self, deadline: float | None = None):
        ticket = (time.monotonic() if deadline is None else deadline, next(self._arrivals))
        with self._cond:
            heapq.heappush(self._queue, ticket)
            while self._busy or self._queue[0] != ticket:
                self._cond.wait()
            heapq.heappop(self._queue)
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def __enter__(self) -> None:  # `with lock:` as with a plain Lock: due now
        held = self.hold()
        held.__enter__()
        self._mine.__dict__.setdefault("held", []).append(held)

    def __exit__(self, *exc: Any) -> None:
        self._mine.held.pop().__exit__(*exc)


class _Guarded:
    """A model behind a lock that counts who waits for it."""

    def __init__(self, inner: Any, lock: Any) -> None:
        self._inner, self._lock = inner, lock
        self._count = threading.Lock()
        self.waiting = 0

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._call_by(None, name, *args, **kwargs)

    def _call_by(self, deadline: float | None, name: str, *args: Any, **kwargs: Any) -> Any:
        with self._count:
            self.waiting += 1
        try:
            with self._lock.hold(deadline) if isinstance(self._lock, UrgentLock) else self._lock:
                return getattr(self._inner, name)(*args, **kwargs)
        finally:
            with self._count:
                self.waiting -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class GuardedRecognizer(_Guarded):
    def transcribe(self, audio, hints=None):
        return self._call("transcribe", audio, hints) if hints is not None else self._call("transcribe", audio)


class GuardedNlu(_Guarded):
    def understand(self, text, alternatives=()):
        return self._call("understand", text, alternatives)


class GuardedPrompts(_Guarded):
    """One render at a time under the lock (Piper's phonemizer is one native engine), sentence by
    sentence, so a prompt's first sentence plays while the next renders (and other calls'
    sentences interleave). A sentence already in memory (every fixed prompt) is taken without the
    lock: one call's personal sentence (a name, a card) renders for ~0.5-1 s, and every other
    call's answer waited for it. Renders wait their turn by when their audio is due (UrgentLock):
    a sentence due once the ones before it have played goes after a caller waiting in silence."""

    def stream(self, text):
        due = time.monotonic()
        for sentence in sentences(text):
            audio = self._inner.cached(sentence)
            if audio is None:
                audio = self._call_by(due, "sentence_audio", sentence)
            due += audio.duration
            yield audio

    def render(self, text):
        return self._call("render", text)


def shared_stack(stack: Stack) -> tuple[Stack, GuardedRecognizer | None]:
    """The same models, safe to call from every call's thread."""
    # a batching recogniser (DecodeBatcher) queues and serialises its decodes itself: a lock here
    # would let only one call's turn reach it at a time, and nothing could be batched
    lock = nullcontext() if getattr(stack.recognizer, "shared", False) else threading.Lock()
    recognizer = GuardedRecognizer(stack.recognizer, lock) if stack.recognizer else None
    prompts = GuardedPrompts(stack.prompts, UrgentLock()) if stack.prompts is not None else None
    nlu = GuardedNlu(stack.nlu, threading.Lock()) if stack.nlu is not None else None
    return replace(stack, recognizer=recognizer, nlu=nlu, prompts=prompts), recognizer


def warm(stack: Stack) -> None:
    """Models finish loading lazily on first use; the first caller must not pay for it."""
    from voicebot.audio import Audio

    if stack.recognizer is not None:
        stack.recognizer.transcribe(Audio.silence(1.0))
    if stack.nlu is not None:
        stack.nlu.understand("hello")


@dataclass(frozen=True)
class Limits:
    max_calls: int = 12
    max_decode_queue: int = 4  # calls waiting for the recogniser
    # calls waiting for the synthesizer: a personal sentence (a card, a name) takes ~0.5-1 s to
    # render and renders one at a time, so a third call waiting hears its answer >1 s late
    max_render_queue: int = 3
    retry_after_s: int = 10


class Admission:
    def __init__(self, limits: Limits, recognizer: GuardedRecognizer | None,
                 prompts: GuardedPrompts | None = None) -> None:
        self.limits, self._recognizer, self._prompts = limits, recognizer, prompts

    def refuse(self, active_calls: int) -> str | None:
        """Why a new call must go elsewhere, or None."""
        if active_calls >= self.limits.max_calls:
            return f"{active_calls} calls active (limit {self.limits.max_calls})"
        waiting = self._recognizer.waiting if self._recognizer else 0
        if waiting >= self.limits.max_decode_queue:
            return f"{waiting} turns waiting for the recogniser (limit {self.limits.max_decode_queue})"
        rendering = self._prompts.waiting if self._prompts else 0
        if rendering >= self.limits.max_render_queue:
            return f"{rendering} answers waiting for the synthesizer (limit {self.limits.max_render_queue})"
        return None
