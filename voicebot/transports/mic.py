"""A live call through the sound card (sounddevice/PortAudio): microphone frames in, prompts out.

Half-duplex on purpose: while the bot speaks, microphone frames are dropped so the bot does not
hear itself through the speakers (no echo canceller here)."""

from __future__ import annotations

import queue

import numpy as np

from voicebot.audio import Audio
from voicebot.errors import VoicebotError
from voicebot.pipeline import Session


def _sounddevice():
    try:
        import sounddevice as sd

        sd.query_devices(kind="input")
        return sd
    except (OSError, ValueError, Exception) as exc:  # PortAudio missing, or no input device
        raise VoicebotError(f"no microphone available ({str(exc).splitlines()[0]}); "
                            "try `voicebot demo` or `voicebot replay` instead") from None


def run_mic_call(session: Session, *, device: str | int | None = None, max_seconds: float = 600.0) -> Session:
    sd = _sounddevice()
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
