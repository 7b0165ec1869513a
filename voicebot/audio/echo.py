"""Echo cancellation against the signal being played, so the bot's own voice coming back through a
telephone line's hybrid or a loudspeaker into the microphone is not heard as the caller.

How the Session uses it (one canceller per call; it holds that call's adaptive filter):

    aec = make_echo_canceller("webrtc", rate=line_rate)          # 8000, 16000, 32000 or 48000
    ...                                                          # on the audio thread, per frame:
    clean = aec.process(near=caller_frame, far=bot_frame_played_now)

- `near` is the caller frame exactly as the transport delivered it (before resampling to the VAD
  rate: the echo is cancelled at the line's own rate); `far` is the bot audio handed to the
  transport for the same time slot, at the same rate and length (zeros while the bot is silent, so
  the filter keeps its time alignment). Both are int16 mono, any multiple of 10 ms (10/20/30 ms
  frames from an audio callback or RTP); `process` returns the echo-reduced near frame, same length.
- Call it on the thread that moves audio, once per frame, in order; it is not thread-safe and costs
  ~0.6 ms per 10 ms at 8 kHz on this 2-core machine (scripts/eval_echo.py), so it needs no worker.
- The line delay (time from handing a frame to the transport to its echo arriving) may be up to
  ~250 ms for "webrtc" (AEC3 estimates it) and up to `tail_ms` for "speex".
- `reset()` when the call is re-connected or the line changes; nothing to do between prompts
  ("webrtc" starts afresh by itself after 2 s of silence played, see WebRtcEchoCanceller).

Backends (chosen by name, measured in docs/realtime.md with scripts/eval_echo.py):
- "webrtc": WebRTC AEC3 (the audio-processing module of Chrome) through LiveKit's Python SDK
  (`livekit.rtc.AudioProcessingModule`), with its high-pass filter; the default. On a line shown
  to carry no echo it passes the caller through until the microphone correlates with what was
  played (voicebot.audio.echo_free, voicebot.audio.echo_detect).
- "speex": speexdsp's MDF echo canceller through `pyaec` (aec-rs), a smaller alternative.
- "off": passes near through unchanged (a line that cancels echo itself, or for comparisons).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Protocol

import numpy as np

from voicebot.audio.types import Audio
from voicebot.errors import ModelError

BLOCK_MS = 10  # both libraries work on 10 ms blocks
RATES = (8000, 16000, 32000, 48000)


class EchoCanceller(Protocol):
    rate: int

    def process(self, near: Audio, far: Audio) -> Audio:
        """Echo-reduced `near` (same length); `far` is what was played in the same time slot."""
        ...

    def reset(self) -> None:
        """Forget the adapted echo path (a new line)."""
        ...


def _blocks(near: Audio, far: Audio, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Both frames as (n_blocks, block) int16 arrays, after checking they line up."""
    if near.rate != rate or far.rate != rate:
        raise ValueError(f"echo canceller runs at {rate} Hz; got near {near.rate} Hz, far {far.rate} Hz")
    block = rate * BLOCK_MS // 1000
    if near.num_samples != far.num_samples or near.num_samples % block:
        raise ValueError(f"near and far must be equally long multiples of {BLOCK_MS} ms "
                         f"({block} samples); got {near.num_samples} and {far.num_samples}")
    shape = (-1, block)
    return (np.ascontiguousarray(near.to_mono().samples).reshape(shape),
            np.ascontiguousarray(far.to_mono().samples).reshape(shape))


IDLE_RESET_S = 2.0  # a fresh AEC3 after this much silence played (WebRtcEchoCanceller)


class WebRtcEchoCanceller:
    """WebRTC AEC3 + high-pass filter (LiveKit's FFI build of webrtc audio processing).

    After `IDLE_RESET_S` of silence played it starts afresh: once converged, AEC3 let the first
    0.1-0.3 s of the next prompt's echo through nearly whole after a long pause (on the PulseAudio
    speakerphone of tests/test_mic_call.py, the re-prompt 6 s after the menu: its output 0-7 dB
    under its input in 3 of 5 calls, one of them paused by its own voice; replayed offline on
    those calls' recordings, whatever the reference's alignment), while a fresh AEC3 holds a
    prompt's first echo 60 dB down (the same replays with a reset after 2 s of silence: no leak).
    The cost: a caller who talks in the first ~0.5 s of a prompt after such a pause is held back
    as at the start of a call, on a line with echo (without echo voicebot.audio.echo_free passes
    them untouched)."""

    def __init__(self, rate: int = 8000, noise_suppression: bool = False, idle_reset_s: float = IDLE_RESET_S) -> None:
        if rate not in RATES:
            raise ValueError(f"WebRTC audio processing takes {RATES} Hz, not {rate}")
        self.rate, self._ns = rate, noise_suppression
        self._idle_blocks = round(idle_reset_s * 1000) // BLOCK_MS
        self.reset()

    def reset(self) -> None:
        try:
            from livekit import rtc
        except ImportError as exc:  # pragma: no cover - an install problem, named for the user
            raise ModelError("echo canceller 'webrtc' needs the livekit package (pip install livekit)") from exc
        self._rtc = rtc
        self._apm = rtc.AudioProcessingModule(echo_cancellation=True, high_pass_filter=True,
                                              noise_suppression=self._ns)
        # Time from process_reverse_stream (handing the frame out) to its echo in process_stream.
        # 0 = unknown: AEC3's delay estimator finds the real line delay by itself.
        self._apm.set_stream_delay_ms(0)
        self._silent = 0  # blocks of silence played since the last sound

    def process(self, near: Audio, far: Audio) -> Audio:
        n, f = _blocks(near, far, self.rate)
        out = np.empty_like(n)
        block = n.shape[1]
        for i in range(n.shape[0]):
            self._silent = 0 if f[i].any() else self._silent + 1
            if self._silent == self._idle_blocks:
                self.reset()
            far_frame = self._rtc.AudioFrame(bytearray(f[i].tobytes()), self.rate, 1, block)
            self._apm.process_reverse_stream(far_frame)
            near_frame = self._rtc.AudioFrame(bytearray(n[i].tobytes()), self.rate, 1, block)
            self._apm.process_stream(near_frame)  # in place
            out[i] = np.frombuffer(near_frame.data, dtype=np.int16)
        return Audio(out.reshape(-1), self.rate)


class SpeexEchoCanceller:
    """speexdsp's MDF adaptive filter (via pyaec's build of aec-rs), `tail_ms` of echo path."""

    def __init__(self, rate: int = 8000, tail_ms: int = 300) -> None:
        if rate not in RATES:
            raise ValueError(f"speex echo canceller runs at {RATES} Hz here, not {rate}")
        self.rate, self.tail_ms = rate, tail_ms
        self._handle = None
        self.reset()

    def reset(self) -> None:
        try:
            import pyaec
        except ImportError as exc:  # pragma: no cover
            raise ModelError("echo canceller 'speex' needs the pyaec package (pip install pyaec)") from exc
        self._lib = pyaec.lib
        self._close()
        block = self.rate * BLOCK_MS // 1000
        # preprocess off: speex's denoiser/AGC would change the caller's level for VAD and ASR
        self._handle = self._lib.AecNew(block, self.rate * self.tail_ms // 1000, self.rate, False)
        if not self._handle:
            raise ModelError("speex echo canceller could not be created")

    def process(self, near: Audio, far: Audio) -> Audio:
        n, f = _blocks(near, far, self.rate)
        out = np.empty_like(n)
        ptr = ctypes.POINTER(ctypes.c_int16)
        for i in range(n.shape[0]):
            ni, fi = np.ascontiguousarray(n[i]), np.ascontiguousarray(f[i])
            self._lib.AecCancelEcho(self._handle, ni.ctypes.data_as(ptr), fi.ctypes.data_as(ptr),
                                    out[i].ctypes.data_as(ptr), ni.size)
        return Audio(out.reshape(-1), self.rate)

    def _close(self) -> None:
        if self._handle:
            self._lib.AecDestroy(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self._close()


class NoEchoCanceller:
    """Near audio unchanged: for lines that cancel echo themselves, and as the evaluation baseline."""

    def __init__(self, rate: int = 8000) -> None:
        self.rate = rate

    def process(self, near: Audio, far: Audio) -> Audio:
        _blocks(near, far, self.rate)
        return near.to_mono()

    def reset(self) -> None:
        pass


def _webrtc(rate: int = 8000, **options: object) -> EchoCanceller:
    """AEC3 that steps aside on a line without echo (its suppressor held a caller's first words
    back ~0.5 s there): voicebot.audio.echo_free."""
    from voicebot.audio.echo_free import EchoFreeBypass  # it builds on this module

    return EchoFreeBypass(WebRtcEchoCanceller(rate, **options))


BACKENDS: dict[str, Callable[..., EchoCanceller]] = {
    "webrtc": _webrtc,
    "speex": SpeexEchoCanceller,
    "off": NoEchoCanceller,
}
DEFAULT = "webrtc"


def make_echo_canceller(name: str = DEFAULT, rate: int = 8000, **options: object) -> EchoCanceller:
    """A fresh canceller for one call (each holds its own adaptive filter: never share one)."""
    if name not in BACKENDS:
        raise ModelError(f"unknown echo canceller {name!r}; choose one of {', '.join(sorted(BACKENDS))}")
    return BACKENDS[name](rate=rate, **options)


def cancel(near: Audio, far: Audio, name: str = DEFAULT, frame_ms: int = 20) -> Audio:
    """Offline helper: run a fresh canceller over whole signals frame by frame, as a call would
    (near is padded to a whole number of frames; the result is cut back to its length)."""
    rate = near.rate
    size = rate * frame_ms // 1000
    total = -(-near.num_samples // size) * size

    def padded(a: Audio) -> np.ndarray:
        x = a.to_mono().samples[:total]
        return np.pad(x, (0, total - x.size))

    n, f = padded(near), padded(far)
    aec = make_echo_canceller(name, rate)
    out = [aec.process(Audio(n[i : i + size], rate), Audio(f[i : i + size], rate)).samples
           for i in range(0, total, size)]
    return Audio(np.concatenate(out)[: near.num_samples], rate)
