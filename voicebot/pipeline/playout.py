"""The bot's side of the line: prompts queued as they render, handed out frame by frame, and
stoppable (barge-in), pausable and resumable where they stopped.

A worker appends each sentence as soon as it is rendered; the audio path reads fixed-size frames.
When the reader catches up with a prompt that is still rendering it gets silence (an underrun),
never a wait. What each prompt played is written back on its turn of the call record
(`bot.played_ms`, `bot.interrupted`)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from voicebot.flow.record import Turn


@dataclass(eq=False)
class Playback:
    """One prompt on its way out. `interruptible`: the caller may talk over it (Ask.barge_in)."""

    text: str
    turn: Turn | None
    interruptible: bool
    rate: int = 16000
    chunks: list[np.ndarray] = field(default_factory=list)
    rendered: bool = False  # every sentence is in `chunks`
    pos: int = 0  # samples played so far
    _chunk: int = 0
    _offset: int = 0

    @property
    def queued(self) -> int:
        return sum(c.shape[0] for c in self.chunks)

    def take(self, n: int) -> np.ndarray:
        out: list[np.ndarray] = []
        while n > 0 and self._chunk < len(self.chunks):
            chunk = self.chunks[self._chunk]
            part = chunk[self._offset:self._offset + n]
            out.append(part)
            n -= part.shape[0]
            self._offset += part.shape[0]
            if self._offset >= chunk.shape[0]:
                self._chunk, self._offset = self._chunk + 1, 0
        got = np.concatenate(out) if out else np.zeros(0, np.int16)
        self.pos += got.shape[0]
        return got

    @property
    def finished(self) -> bool:
        return self.rendered and self._chunk >= len(self.chunks)


class Playout:
    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._queue: deque[Playback] = deque()
        self._lock = threading.Lock()
        self.paused = False

    # ---- the worker side ------------------------------------------------------------------
    def add(self, playback: Playback) -> None:
        with self._lock:
            self._queue.append(playback)

    def append(self, playback: Playback, samples: np.ndarray) -> bool:
        """Queue a rendered sentence; False when the prompt was stopped meanwhile (stop rendering)."""
        with self._lock:
            if playback not in self._queue:
                return False
            playback.chunks.append(samples)
            return True

    def rendered(self, playback: Playback) -> None:
        with self._lock:
            playback.rendered = True
            self._retire_finished()

    # ---- the audio path -------------------------------------------------------------------
    @property
    def speaking(self) -> bool:
        """A prompt is on the line (playing, rendering or paused by a possible barge-in)."""
        with self._lock:
            return bool(self._queue)

    @property
    def interruptible(self) -> bool:
        with self._lock:
            return bool(self._queue) and self._queue[0].interruptible

    def read(self, n: int) -> np.ndarray:
        """Exactly `n` samples of bot audio: the prompt, or silence (nothing queued, paused,
        still rendering)."""
        out = np.zeros(n, np.int16)
        with self._lock:
            filled = 0
            while filled < n and self._queue and not self.paused:
                got = self._queue[0].take(n - filled)
                out[filled:filled + got.shape[0]] = got
                filled += got.shape[0]
                if not self._retire_finished():
                    break  # underrun: the rest of this prompt is still rendering
        return out

    def pause(self) -> None:
        with self._lock:
            self.paused = True

    def resume(self) -> None:
        with self._lock:
            self.paused = False

    def stop(self) -> list[Playback]:
        """Barge-in confirmed (or DTMF): drop every queued prompt, noting how much was heard."""
        with self._lock:
            stopped = list(self._queue)
            self._queue.clear()
            self.paused = False
        for playback in stopped:
            _note(playback, interrupted=True)
        return stopped

    def _retire_finished(self) -> bool:
        """Pop finished prompts (lock held); True if the head prompt finished."""
        popped = False
        while self._queue and self._queue[0].finished:
            _note(self._queue.popleft(), interrupted=False)
            popped = True
        return popped


def _note(playback: Playback, interrupted: bool) -> None:
    turn = playback.turn
    if turn is None:
        return
    turn.bot_played_ms = (turn.bot_played_ms or 0) + playback.pos * 1000 // playback.rate
    turn.bot_interrupted = turn.bot_interrupted or interrupted
