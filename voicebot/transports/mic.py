"""A live call through the sound card (sounddevice/PortAudio): microphone frames in, prompts out.

Half-duplex on purpose: while the bot speaks, microphone frames are dropped so the bot does not
hear itself through the speakers (no echo canceller here)."""

from __future__ import annotations

import queue

import numpy as np

from voicebot.audio import Audio
from voicebot.errors import VoicebotError
from voicebot.pipeline import Session


def check_microphone(device: str | int | None = None):
    """The sounddevice module once an input device answers; checked before any model loads so a
    machine without a microphone is told so at once."""
    try:
        import sounddevice as sd

        sd.check_input_settings(device=_device(device), channels=1, dtype="int16", samplerate=16000)
        return sd
    except Exception as exc:  # PortAudio missing (OSError), no or wrong device (ValueError, PortAudioError)
        what = f"microphone {device!r}" if device is not None else "no microphone available"
        raise VoicebotError(f"{what}: {str(exc).splitlines()[0]}; "
                            "try `voicebot demo` or `voicebot replay` instead") from None


def _device(device: str | int | None) -> str | int | None:
    return int(device) if isinstance(device, str) and device.isdigit() else device


def run_mic_call(session: Session, *, device: str | int | None = None, max_seconds: float = 600.0) -> Session:
    sd = check_microphone(device)
    device = _device(device)
    rate, frame_ms = session.rate, session.stack.vad.frame_ms
    block = rate * frame_ms // 1000
    frames: queue.Queue[np.ndarray] = queue.Queue()

    def on_audio(indata, _frames, _time, _status) -> None:
        frames.put(indata[:, 0].copy())

    session.start()
    with sd.InputStream(samplerate=rate, channels=1, dtype="int16", blocksize=block,
                        device=device, callback=on_audio):
        heard = 0.0
        while not session.done and heard < max_seconds:
            for prompt in session.take_audio():
                sd.play(prompt.samples, prompt.rate, blocking=True)
                _drain(frames)  # what the mic caught while the bot spoke is the bot itself
            try:
                chunk = frames.get(timeout=1.0)
            except queue.Empty:
                continue
            session.push(Audio(chunk, rate))
            heard += frame_ms / 1000
    for prompt in session.take_audio():
        sd.play(prompt.samples, prompt.rate, blocking=True)
    session.hangup()
    return session


def _drain(frames: queue.Queue) -> None:
    while not frames.empty():
        frames.get_nowait()
