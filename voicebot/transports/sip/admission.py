"""Admission control and the models every call of a worker shares.

Calls run on their own threads, but recognition and understanding go through one lock per model
(the recogniser: its own batching queue) and synthesis through a render slot per core: on 2 cores
two decodes at once only make both late, and the number of calls waiting for the recogniser, or
for the synthesizer (a personal sentence renders for ~0.5-1 s), is the queue depth that tells the
worker it can no longer keep turn latency. Then a new INVITE gets 503 with Retry-After (and OPTIONS probes get 503, so a proxy
stops sending calls) instead of a call that degrades everyone's."""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any

from voicebot.envvars import env_count
from voicebot.pipeline import Stack
from voicebot.tts.base import sentences
from voicebot.tts.piper import tts_threads


class UrgentLock:
    """`slots` holders at a time (one: a lock), the most urgent waiter next: by when it needs the
    result (a prompt's first sentence: now, its caller is waiting in silence; a later sentence:
    once the sentences before it have played), then first come. A plain Lock lets any waiter in
    next, so under load one call's answer could wait out several other calls' renders."""

    def __init__(self, slots: int = 1) -> None:
        self.slots = max(1, slots)
        self._cond = threading.Condition()
        self._held = 0
        self._queue: list[tuple[float, int]] = []  # a heap of (deadline, arrival)
        self._arrivals = itertools.count()
        self._mine = threading.local()  # what `with lock:` holds, per thread

    @contextmanager
    def hold(self, deadline: float | None = None):
        ticket = (time.monotonic() if deadline is None else deadline, next(self._arrivals))
        with self._cond:
            heapq.heappush(self._queue, ticket)
            while self._held >= self.slots or self._queue[0] != ticket:
                self._cond.wait()
            heapq.heappop(self._queue)
            self._held += 1
            self._cond.notify_all()  # the next in line may take another free slot
        try:
            yield
        finally:
            with self._cond:
                self._held -= 1
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
        return self._in_turn(deadline, lambda: getattr(self._inner, name)(*args, **kwargs))

    def _in_turn(self, deadline: float | None, work: Callable[[], Any]) -> Any:
        with self._count:
            self.waiting += 1
        try:
            with self._lock.hold(deadline) if isinstance(self._lock, UrgentLock) else self._lock:
                return work()
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


class GuardedSynthesizer(_Guarded):
    """The process's one synthesizer, `lock.slots` renders at a time, each waiting its turn by
    when its audio is due (`due`, set per thread by GuardedPrompts.stream). Piper is safe to run
    from several threads (espeak-ng's phonemizer runs under piper's own lock; onnxruntime's
    `InferenceSession.run` is thread-safe), so the slots are cores, not a guard against races."""

    def __init__(self, inner: Any, lock: UrgentLock) -> None:
        super().__init__(inner, lock)
        self.due = threading.local()
        # one thread per slot, each below the decoder's priority (RENDER_NICE)
        self._threads = ThreadPoolExecutor(lock.slots, thread_name_prefix="voicebot-render",
                                           initializer=_lower_priority)

    def synthesize(self, text):
        return self._in_turn(getattr(self.due, "at", None),
                             lambda: self._threads.submit(self._inner.synthesize, text).result())

    def stream(self, text):  # the Synthesizer Protocol: one render per sentence, each in turn
        for sentence in sentences(text):
            yield self.synthesize(sentence)


class GuardedPrompts:
    """The worker's PromptCache with its synthesizer behind the render slots. A sentence already
    in memory (every fixed prompt) never waits for a slot: one call's personal sentence (a name,
    a card) renders for ~0.5-1 s, and every other call's answer waited for it. Prompts stream
    through PromptCache.stream itself, so a SIP call's personal first sentence comes in two (its
    first clause, then the rest) as it does without SIP; its renders wait their turn by when their
    audio is due (UrgentLock): a sentence due once the ones before it have played goes after a
    caller waiting in silence."""

    def __init__(self, inner: Any, lock: UrgentLock) -> None:
        self._inner = inner
        synth = inner.synth
        if not isinstance(synth, GuardedSynthesizer):  # the cache is the process's: guard it once
            synth = inner.synth = GuardedSynthesizer(synth, lock)
        self._synth: GuardedSynthesizer = synth

    @property
    def waiting(self) -> int:
        """Renders waiting for a slot or running."""
        return self._synth.waiting

    def stream(self, text):
        due = time.monotonic()
        sentences_out = iter(self._inner.stream(text))
        while True:
            self._synth.due.at = due  # read by this thread's renders inside the cache
            try:
                audio = next(sentences_out)
            except StopIteration:
                return
            finally:
                self._synth.due.at = None
            due += audio.duration
            yield audio

    def render(self, text):
        return self._inner.render(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


# Renders run this much below the other threads. The one decoder serves every call's every turn;
# a render serves one call's answer. Two renders at once on 2 cores took them both from the
# decoder: at 12 SIP calls the mean `asr` stage went 88 → 458 ms while `tts_first` fell 332 → 2 ms
# (docs/sip-concurrency.md). Niced, a render still takes whatever CPU the decoder leaves.
RENDER_NICE = 5


def _lower_priority() -> None:
    """This thread's nice value RENDER_NICE above what it was (Linux: nice is per thread), and its
    own name for the OS (not the call's it was started from)."""
    from voicebot.pipeline.workers import name_os_thread

    name_os_thread()
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + RENDER_NICE))
    except (AttributeError, OSError):  # not Linux: renders run at the caller's priority
        pass


def render_slots() -> int:
    """Renders at once (VOICEBOT_TTS_RENDERS, default: cores / Piper's intra-op threads): a PIN
    turn's personal answer waited 0.7-3.8 s at 12 SIP calls behind other calls' renders, one at a
    time, while the second core had room (docs/sip-concurrency.md)."""
    return max(1, env_count("VOICEBOT_TTS_RENDERS", 0) or (os.cpu_count() or 1) // tts_threads())


def shared_stack(stack: Stack) -> tuple[Stack, GuardedRecognizer | None]:
    """The same models, safe to call from every call's thread."""
    # a batching recogniser (DecodeBatcher) queues and serialises its decodes itself: a lock here
    # would let only one call's turn reach it at a time, and nothing could be batched
    lock = nullcontext() if getattr(stack.recognizer, "shared", False) else threading.Lock()
    recognizer = GuardedRecognizer(stack.recognizer, lock) if stack.recognizer else None
    prompts = GuardedPrompts(stack.prompts, UrgentLock(render_slots())) if stack.prompts is not None else None
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
    # calls waiting for the synthesizer (rendering included): a personal sentence (a card, a name)
    # takes ~0.5-1 s to render, a slot per core, so past this a call waiting hears its answer late
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
