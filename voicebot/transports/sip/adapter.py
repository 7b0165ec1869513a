"""The one place that knows the Session's transport surface. A SIP call hands it 8 kHz caller
frames, keys and hang-up, and takes bot audio; when the Session gains a frame pull (`read(ms)`)
and barge-in, only this module changes.

Today's Session returns whole prompt sentences from `take_audio()` and has no echo-aware
barge-in, so the call is half-duplex here: caller audio heard while the bot's audio is still on
the wire is not pushed (the Session already counted that time as the prompt's), keys are."""

from __future__ import annotations

from typing import Any

import numpy as np
import soxr

from voicebot.audio import Audio


class SessionPort:
    def __init__(self, session: Any) -> None:
        self.session = session
        self.rate = session.rate
        self._up: soxr.ResampleStream | None = None  # one stream per call: no clicks between packets
        self._up_from = 0
        self._pending = np.zeros(0, np.int16)  # resampled audio not yet a whole VAD frame
        self._frame = self.rate * 20 // 1000

    @property
    def done(self) -> bool:
        return self.session.done

    def start(self) -> None:
        self.session.start()

    def caller(self, frame: Audio) -> None:
        if frame.rate != self.rate:
            if self._up is None or self._up_from != frame.rate:
                self._up, self._up_from = soxr.ResampleStream(frame.rate, self.rate, 1, dtype="int16"), frame.rate
            samples = self._up.resample_chunk(frame.samples)
        else:
            samples = frame.to_mono().samples
        # The endpointer takes whole 20 ms frames; the resampler returns what it has.
        self._pending = np.concatenate([self._pending, np.asarray(samples, dtype=np.int16)])
        while len(self._pending) >= self._frame:
            chunk, self._pending = self._pending[:self._frame], self._pending[self._frame:]
            self.session.push(Audio(np.ascontiguousarray(chunk), self.rate))

    def dtmf(self, digits: str) -> None:
        self.session.dtmf(digits)

    def expecting(self) -> tuple[str, int | None]:
        """What the current prompt waits for (kind, digit count), to gather keys into an answer."""
        expect = getattr(self.session.engine, "expecting", None)
        return getattr(expect, "kind", "intent"), getattr(expect, "length", None)

    def hangup(self) -> None:
        self.session.hangup()

    def bot_audio(self) -> list[Audio]:
        return self.session.take_audio()

    def subscribe(self, listener) -> None:
        self.session.subscribe(listener)
