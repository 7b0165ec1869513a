"""The one place that knows the Session's transport surface, for a SIP call: 8 kHz caller frames
in (the Session resamples and re-buffers them itself), 20 ms of bot audio out at 8 kHz, keys,
hang-up. Every method is cheap and returns at once: none waits on a model, the store or TTS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from voicebot.audio import Audio
from voicebot.audio.fir import fir_step, lowpass
from voicebot.pipeline import Session

RATE = 8000


class LineRate:
    """The Session's 16 kHz audio as 8 kHz line audio, 20 ms in → exactly 20 ms out: a linear-phase
    low-pass at 3.6 kHz (63 taps, ~2 ms delay) keeping its state across frames, then every second
    sample. A streaming soxr resampler returns its output in ~100 ms bursts, which a line sending
    one 20 ms packet per tick would have to pad with silence (gaps the caller hears) or wait for."""

    TAPS = 63

    def __init__(self, in_rate: int) -> None:
        if in_rate != 2 * RATE:
            raise ValueError(f"the SIP line needs a {2 * RATE} Hz Session, not {in_rate} Hz")
        self._taps = lowpass(self.TAPS, 3600 / (in_rate / 2))
        self._zi = np.zeros(self.TAPS - 1)

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        if len(samples) % 2:
            raise ValueError("the line takes whole 8 kHz samples: an even number of 16 kHz ones")
        filtered, self._zi = fir_step(self._taps, samples.astype(np.float64), self._zi)
        return np.clip(np.rint(filtered[::2]), -32768, 32767).astype(np.int16)


class SessionPort:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._to_line = LineRate(session.rate)

    @property
    def done(self) -> bool:
        return self.session.done

    @property
    def speaking(self) -> bool:
        """A prompt is on the line (playing, rendering, or paused by a possible barge-in)."""
        return self.session.speaking

    def start(self) -> None:
        self.session.start()

    def caller(self, frame: Audio) -> None:
        self.session.push(frame)

    def read(self, ms: int) -> Audio:
        """The next `ms` of bot audio at the line's rate (silence when the bot is quiet)."""
        return Audio(self._to_line(self.session.read(ms).samples), RATE)

    def dtmf(self, digits: str) -> None:
        self.session.dtmf(digits)

    def key_down(self) -> bool:
        """A key is pressed (its digits come later): stop an interruptible prompt; True if one stopped."""
        return self.session.key_down()

    def expecting(self) -> tuple[str, int | None]:
        """What the current prompt waits for (kind, digit count), to gather keys into an answer."""
        expect = self.session.engine.expecting
        return expect.kind, expect.length

    def hangup(self) -> None:
        self.session.hangup()

    def settle(self, timeout: float) -> None:
        """After the call: let the workers close the record (never called from the RTP clock)."""
        self.session.settle(timeout)

    def subscribe(self, listener: Callable[[Any], None]) -> None:
        self.session.subscribe(listener)
