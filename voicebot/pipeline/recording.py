"""The whole call as one stereo timeline: caller on the left, bot on the right."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voicebot.audio import Audio, write_wav


class CallRecording:
    def __init__(self, rate: int = 16000) -> None:
        self.rate = rate
        self._left: list[np.ndarray] = []
        self._right: list[np.ndarray] = []

    def caller(self, audio: Audio) -> None:
        self._append(audio.canonical(self.rate).samples, left=True)

    def bot(self, audio: Audio) -> None:
        self._append(audio.canonical(self.rate).samples, left=False)

    def _append(self, samples: np.ndarray, left: bool) -> None:
        silence = np.zeros_like(samples)
        self._left.append(samples if left else silence)
        self._right.append(silence if left else samples)

    @property
    def duration(self) -> float:
        return sum(s.shape[0] for s in self._left) / self.rate

    def stereo(self) -> Audio:
        if not self._left:
            return Audio(np.zeros((0, 2), np.int16), self.rate, 2)
        return Audio(np.stack([np.concatenate(self._left), np.concatenate(self._right)], axis=1), self.rate, 2)

    def save(self, path: str | Path) -> Path:
        return write_wav(path, self.stereo())
