"""A live call through the sound card (sounddevice/PortAudio), full duplex: the microphone's
blocks are pushed into the Session and the speaker's blocks are read from it, so the bot hears the
caller while it speaks (barge-in). The bot's own voice comes back from the speakers into the
microphone: the transport cancels it (WebRTC AEC3, `echo="webrtc"`; voicebot.transports.mic_echo)
against what the speaker played while each microphone block was captured (blocks counted; the
card's timestamps only where a stream starts, underruns or overflows), before the Session's VAD
and barge-in detector hear it. Digit keys (0-9 * #) typed in the terminal are DTMF, gathered into
an answer at a digits prompt like a phone's keys (voicebot.transports.sip.dtmf).

Latency (what a caller hears after talking over the bot): the microphone's blocks reach the
Session after the input buffer (`IN_LATENCY_S`, 10 ms blocks), and the bot's audio already handed
to the sound card plays out for the output buffer (`OUT_LATENCY_S`). The output buffer is larger
(a speaker that underruns clicks, on a loaded machine), so when the Session pauses or stops a
prompt (`BargedIn`, `Interrupted`) the transport drops what the card still holds instead of
letting it play out: the output callback itself aborts the stream (PortAudio's paAbort: ALSA drop,
which flushes the PulseAudio stream) and the stream is started again; what it dropped leaves the
echo reference (it was never played). From the callback, not with
`Stream.abort()`, which cancels the callback thread (pthread_cancel) possibly inside Python.
Measured on a private PulseAudio server: tests/test_mic_bargein.py, docs/realtime.md."""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

import numpy as np

from voicebot.errors import VoicebotError
from voicebot.pipeline import Session
from voicebot.pipeline.events import BargedIn, Interrupted
from voicebot.transports.mic_echo import CardEcho
from voicebot.transports.sip.dtmf import DigitCollector

log = logging.getLogger(__name__)

DTMF_KEYS = set("0123456789*#")
BLOCK_MS = 10  # both ways: a block moves only when full, and the speaker reads the Session this often
IN_LATENCY_S = 0.01  # microphone buffer: the caller's voice reaches the detector this much later
OUT_LATENCY_S = 0.04  # speaker buffer: room for a worker holding the GIL; flushed on barge-in
TAIL_S = 0.3  # after the call ends, let the last blocks reach the speaker


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
                 keys: TextIO | None = None, keyboard: bool = True,
                 on_key: Callable[[str], None] | None = None, echo: str = "webrtc") -> Session:
    """Run the call until it ends or `max_seconds`. `keys`: where typed keys come from (default
    the terminal on stdin, when it is one); `on_key` sees every key as it is typed."""
    sd = check_microphone(device)
    device = _device(device)
    rate = session.rate
    # speaker echo (voicebot.audio.echo names: "webrtc", "speex", "off") is cancelled here, where
    # a flush or an underrun is seen; the Session's own count-based canceller is off
    session.cancel_echo("off")
    card = CardEcho(echo, rate)
    block = rate * BLOCK_MS // 1000

    # The input callback only queues the block (a callback that waited on the Session's lock while
    # a worker holds it would make the card drop blocks); this thread pushes it into the Session.
    # The output callback reads the Session directly: `read` never waits on a model, and reading
    # when the card asks keeps the speaker exactly OUT_LATENCY_S behind, with no queue to grow.
    mic: queue.SimpleQueue[tuple[np.ndarray, float, bool, float]] = queue.SimpleQueue()
    flush = threading.Event()  # drop what the speaker holds (set on the audio path)

    def heard(indata, _frames, time_info, status) -> None:
        if status.input_overflow:
            log.debug("microphone overflow")
        mic.put((indata[:, 0].copy(), time_info.inputBufferAdcTime or time_info.currentTime,
                 bool(status.input_overflow), time.monotonic()))

    def play(outdata, frames, time_info, status) -> None:
        if flush.is_set():
            flush.clear()
            outdata.fill(0)
            card.played.cut(time_info.currentTime)  # what the card held is never heard
            raise sd.CallbackAbort  # the stream stops, dropping its buffer; the pump restarts it
        out = session.read(frames * 1000 // rate).samples
        outdata[:, 0] = np.pad(out[:frames], (0, frames - min(frames, out.shape[0])))
        card.play(outdata[:, 0], time.monotonic(),
                  time_info.outputBufferDacTime or time_info.currentTime + OUT_LATENCY_S, gap=bool(status.output_underflow))

    def stopped(event) -> None:  # on the audio path, under the Session's lock: only flag it
        match event:
            case BargedIn() | Interrupted():
                flush.set()

    session.subscribe(stopped)
    stop = threading.Event()
    if keyboard:
        stream = keys if keys is not None else sys.stdin
        threading.Thread(target=read_keys, args=(session, stream, stop, on_key), daemon=True).start()
    session.start()
    started = time.monotonic()
    try:
        # Two streams, not one duplex stream: PortAudio's ALSA→PulseAudio duplex path drops out on
        # underruns; each direction on its own recovers.
        with sd.InputStream(samplerate=rate, channels=1, dtype="int16", blocksize=block, device=device,
                            latency=IN_LATENCY_S, callback=heard), \
                sd.OutputStream(samplerate=rate, channels=1, dtype="int16", blocksize=block,
                                latency=OUT_LATENCY_S, callback=play) as speaker:
            while not session.done and time.monotonic() - started < max_seconds:
                try:
                    samples, captured_at, overflowed, arrived = mic.get(timeout=0.1)
                    session.push(card.cancel(samples, captured_at, overflowed, arrived))
                except queue.Empty:
                    pass
                if not speaker.active:  # aborted by its callback (a flush), or by an error
                    _restart(speaker)
            time.sleep(TAIL_S)
    finally:
        stop.set()
    session.hangup()
    session.settle()
    return session


def _restart(speaker) -> None:
    """Start the speaker again after its callback aborted it (its thread has exited: `stop` only
    joins it). Never called under the Session's lock."""
    try:
        speaker.stop()
        speaker.start()
    except Exception:  # the call goes on without sound out rather than ending
        log.exception("could not restart the speaker")


def read_keys(session: Session, stream: TextIO, stop: threading.Event,
              on_key: Callable[[str], None] | None = None) -> None:
    """Keys typed in a terminal, read one by one (cbreak mode), as DTMF. At a digits prompt they
    are gathered until its length, `#` or a 3 s pause; at any other prompt each key answers."""
    if stream is None or not stream.isatty():
        return
    import os
    import select
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    collector = DigitCollector()

    def answer(digits: str | None) -> None:
        if digits:
            session.dtmf(digits)

    try:
        tty.setcbreak(fd)
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            now = time.monotonic()
            answer(collector.timeout(now))
            if not ready:
                continue
            # the fd, not the text stream: keys typed quickly arrive together, and what a text
            # stream buffered would wait, unseen by select, until the next key
            data = os.read(fd, 64)
            if not data:
                return  # the terminal closed
            for key in data.decode("ascii", "ignore"):
                if key in DTMF_KEYS:
                    if on_key is not None:
                        on_key(key)
                    expect = session.engine.expecting
                    answer(collector.key(key, now, expect.kind, expect.length))
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
