"""A live call through the sound card (sounddevice/PortAudio), full duplex: one stream's callback
pushes each microphone block into the Session and fills the speaker block from `session.read`, so
the bot hears the caller while it speaks (barge-in). The bot's own voice comes back from the
speakers into the microphone: the call cancels it (WebRTC AEC3, `echo="webrtc"`, against the
blocks handed to the speaker) before the VAD and the barge-in detector hear the microphone.
Digit keys (0-9 * #) typed in the terminal are DTMF."""

from __future__ import annotations

import collections
import contextlib
import queue
import sys
import threading
import time

import numpy as np

from voicebot.audio import Audio
from voicebot.errors import VoicebotError
from voicebot.pipeline import Session

DTMF_KEYS = set("0123456789*#")


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


def run_mic_call(session: Session, *, device: str | int | None = None, max_seconds: float = 600.0,
                 keyboard: bool = True, echo: str = "webrtc") -> Session:
    sd = check_microphone(device)
    session.cancel_echo(echo)  # speaker echo: voicebot.audio.echo names ("webrtc", "speex", "off")
    device = _device(device)
    rate, frame_ms = session.rate, session.frame_ms
    block = rate * frame_ms // 1000

    # PortAudio's callbacks only move samples in and out of queues: a callback that waited on the
    # GIL while a worker decodes would make the sound card drop blocks. A pump thread feeds the
    # Session at the microphone's cadence and keeps the speaker a few frames ahead.
    mic: queue.Queue[np.ndarray] = queue.Queue()
    speaker: collections.deque[np.ndarray] = collections.deque()
    pending = [np.zeros(0, np.int16)]

    def heard(indata, _frames, _time, _status) -> None:
        mic.put(indata[:, 0].copy())

    def play(outdata, frames, _time, _status) -> None:
        data = pending[0]
        while data.shape[0] < frames and speaker:
            data = np.concatenate([data, speaker.popleft()])
        out = data[:frames]
        outdata[:, 0] = np.pad(out, (0, frames - out.shape[0]))
        pending[0] = data[frames:]

    stop = threading.Event()
    if keyboard:
        threading.Thread(target=_keys, args=(session, stop), daemon=True).start()
    session.start()
    started = time.monotonic()
    try:
        # Two streams, not one duplex stream: PortAudio's ALSA→PulseAudio duplex path drops out on
        # underruns; each direction on its own recovers.
        with sd.InputStream(samplerate=rate, channels=1, dtype="int16", blocksize=block, device=device,
                            callback=heard), \
                sd.OutputStream(samplerate=rate, channels=1, dtype="int16", blocksize=block,
                                latency="high", callback=play):
            while not session.done and time.monotonic() - started < max_seconds:
                try:
                    block_in = mic.get(timeout=0.5)
                except queue.Empty:
                    continue
                session.push(Audio(block_in, rate))
                speaker.append(session.read(frame_ms).samples)
            time.sleep(0.3)  # the last blocks reach the speaker
    finally:
        stop.set()
    session.hangup()
    session.settle()
    return session


def _keys(session: Session, stop: threading.Event) -> None:
    """Keyboard digits as DTMF, read key by key when the terminal allows it."""
    stream = sys.stdin
    if stream is None or not stream.isatty():
        return
    import select
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                key = stream.read(1)
                if key in DTMF_KEYS:
                    session.dtmf(key)
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
