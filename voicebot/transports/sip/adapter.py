"""The one place that knows the Session's transport surface, for a SIP call: 8 kHz caller frames
in (the Session resamples and re-buffers them itself), 20 ms of bot audio out at 8 kHz, keys,
hang-up. Every method is cheap and returns at once: none waits on a model, the store or TTS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voicebot.audio import Audio
from voicebot.pipeline import Session

RATE = 8000


class SessionPort:
    def __init__(self, session: Session) -> None:
        self.session = session

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
        return self.session.read(ms, rate=RATE)

    def dtmf(self, digits: str) -> None:
        self.session.dtmf(digits)

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
