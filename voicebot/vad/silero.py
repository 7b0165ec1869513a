"""Silero VAD (v5, ONNX) as a streaming speech probability, for barge-in.

The model file is the one the `pipecat-ai` wheel ships (pipecat/audio/vad/data/silero_vad.onnx);
it is installed without pipecat's dependencies (scripts/setup.sh: `pip install --no-deps`) and
pipecat itself is never imported — only its data files are read.

One `onnxruntime.InferenceSession` per process (thread-safe `run`, one intra-op thread so many
calls do not oversubscribe the cores); each `SileroStream` holds one call's recurrent state and
must be fed from one thread. Chunks are 32 ms (512 samples at 16 kHz, 256 at 8 kHz); `push`
accepts any frame size and returns one probability per completed chunk."""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from voicebot.audio.types import Audio
from voicebot.errors import ModelError

CHUNK = {16000: 512, 8000: 256}
CONTEXT = {16000: 64, 8000: 32}
_lock = threading.Lock()


def pipecat_asset(relative: str) -> Path:
    """A data file inside the installed pipecat package, found without importing pipecat (its
    __init__ needs dependencies that are deliberately not installed)."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("pipecat-ai is not installed (pip install --no-deps pipecat-ai); "
                         f"it ships {relative}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelError(f"{path} is missing from the installed pipecat-ai wheel")
    return path


@lru_cache(maxsize=None)
def onnx_session(relative: str):
    """One shared InferenceSession per model file (loading is serialised: threads may race here)."""
    import onnxruntime as ort

    with _lock:
        opts = ort.SessionOptions()
        opts.inter_op_num_threads = opts.intra_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        return ort.InferenceSession(str(pipecat_asset(relative)), sess_options=opts,
                                    providers=["CPUExecutionProvider"])


SILERO_MODEL = "audio/vad/data/silero_vad.onnx"
INFERENCES = [0]  # chunks run through the model in this process (scripts/eval_session_bargein.py)


class SileroStream:
    """Speech probability per 32 ms chunk of one audio stream (8 or 16 kHz mono int16).

    `prob(chunk)` runs the model on the next whole chunk of the stream; `push(frame)` takes any
    frame size. `reset()` starts a new stream (state and context zero)."""

    def __init__(self, rate: int = 16000) -> None:
        if rate not in CHUNK:
            raise ValueError(f"Silero VAD runs at 8000 or 16000 Hz, not {rate}")
        self.rate, self.chunk = rate, CHUNK[rate]
        self._session = onnx_session(SILERO_MODEL)
        self._sr = np.array(rate, dtype=np.int64)
        self._x = np.zeros((1, CONTEXT[rate] + self.chunk), dtype=np.float32)  # context + chunk
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._x[:] = 0
        self._pending = np.zeros(0, dtype=np.float32)

    def prob(self, chunk: np.ndarray) -> float:
        """P(speech) of one chunk of `self.chunk` int16 samples, following the stream."""
        self._load(chunk)
        INFERENCES[0] += 1
        out, self._state = self._session.run(None, {"input": self._x, "state": self._state, "sr": self._sr})
        return float(out[0, 0])

    def _load(self, chunk: np.ndarray) -> None:
        context = CONTEXT[self.rate]
        self._x[0, :context] = self._x[0, -context:]  # the previous chunk's tail
        np.multiply(chunk, 1 / 32768, out=self._x[0, context:], casting="unsafe")

    def push(self, frame: Audio) -> list[float]:
        """Any frame size: one probability per chunk completed by this frame."""
        if frame.rate != self.rate:
            raise ValueError(f"SileroStream at {self.rate} Hz got a {frame.rate} Hz frame")
        self._pending = np.concatenate([self._pending, frame.to_mono().samples.astype(np.float32)])
        probs: list[float] = []
        while self._pending.size >= self.chunk:
            probs.append(self.prob(self._pending[: self.chunk]))
            self._pending = self._pending[self.chunk :]
        return probs
