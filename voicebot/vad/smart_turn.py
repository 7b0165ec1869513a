"""End of turn: has the caller finished, or only paused mid-sentence? Smart Turn v3.2.

The model is the 8 MB int8 ONNX the `pipecat-ai` wheel ships
(pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx): a Whisper-tiny-sized encoder with
a classifier head over the last 8 s of 16 kHz audio, returning P(turn complete). Its input is
Whisper's log-mel spectrogram (80 × 800, chunk_length 8 s, waveform normalised to zero mean and
unit variance), computed by the numpy module shipped next to the model in the same wheel
(`_whisper_features.py`, a copy of transformers' WhisperFeatureExtractor); pipecat itself is never
imported (its dependencies are not installed: scripts/setup.sh installs it with --no-deps).

How the Session would use it (it does not: on telephone audio it did not beat the fixed hang-over,
docs/realtime.md, scripts/eval_endpointing.py): when the endpointer has seen a short pause
(~200 ms) in the caller's speech, call `probability(turn_audio)` with the whole turn so far (any
rate; the last 8 s count) on a worker thread, never the audio thread (0.2-0.3 s per call on this
2-core machine); end the turn when it is >= the threshold, else keep listening up to the flow's
hang-over. The ONNX session is shared by every call of the process (one intra-op thread each;
onnxruntime's `run` is thread-safe), so one `smart_turn()` serves all workers.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Protocol

import numpy as np

from voicebot.audio.types import Audio
from voicebot.vad.silero import onnx_session, pipecat_asset

MODEL = "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
FEATURES = "audio/turn/smart_turn/_whisper_features.py"
RATE = 16000
WINDOW_S = 8


class EndOfTurn(Protocol):
    def probability(self, audio: Audio) -> float:
        """P(the caller has finished their turn) given the turn's audio so far."""
        ...


@lru_cache(maxsize=1)
def _features():
    """pipecat's numpy Whisper feature extractor, loaded from its file (it imports only numpy)."""
    spec = importlib.util.spec_from_file_location("voicebot_smart_turn_features", pipecat_asset(FEATURES))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compute_whisper_log_mel_features


class SmartTurn:
    """Smart Turn v3.2 (int8, CPU) on onnxruntime."""

    def __init__(self) -> None:
        self._session = onnx_session(MODEL)
        self._extract = _features()

    def probability(self, audio: Audio) -> float:
        x = audio.canonical(RATE).to_float()
        n = WINDOW_S * RATE
        # the last 8 s, zero-padded at the start (as pipecat does): the end of the turn is what counts
        x = x[-n:] if x.size >= n else np.pad(x, (n - x.size, 0))
        features = self._extract(x, do_normalize=True)[None]
        out = self._session.run(None, {"input_features": features})[0]
        return float(np.asarray(out).reshape(-1)[0])


@lru_cache(maxsize=None)
def smart_turn() -> SmartTurn:
    """The process's one Smart Turn model."""
    return SmartTurn()
