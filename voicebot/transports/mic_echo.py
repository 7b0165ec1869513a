"""The sound card's echo reference, aligned by time instead of by counting samples.

The speaker's echo in a microphone block is what the speaker played while that block was
captured. Counting samples read against samples pushed (the Session's own `EchoInput`, right for
a telephone line) goes wrong on a sound card whenever its output buffer is flushed (barge-in) or
runs dry (an underrun on a loaded machine): both change when the audio read so far is played, and
the echo then arrives before its reference, which AEC3 cannot model (3 of 3 live speakerphone
runs ended with a prompt cut by its own echo after a barge-in).

So each block read for the speaker is placed on a timeline at PortAudio's `outputBufferDacTime`
(when it will be heard), each microphone block is looked up at its `inputBufferAdcTime` (when it
was heard), and a flush clears the timeline from the moment it takes effect. Both times come from
one clock (PortAudio's stream time). Consecutive blocks stay sample-contiguous (a timestamp within
`SNAP_S` of where the previous block ended is taken as that position: callback times jitter), and
the reference is read `LEAD_S` later than the capture time, so an error in the timestamps up to
that much still leaves the echo after its reference (AEC3 estimates the remaining delay)."""

from __future__ import annotations

import threading

import numpy as np

from voicebot.audio import Audio
from voicebot.audio.echo import EchoCanceller, make_echo_canceller

KEEP_S = 2.0  # timeline kept (a pump starved this long only loses its reference)
SNAP_S = 0.004
LEAD_S = 0.01


class Timeline:
    """Samples placed at absolute positions (stream time × rate) in a ring; unwritten is silence."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._ring = np.zeros(int(KEEP_S * rate), np.int16)
        self._end: int | None = None  # position after the last sample written
        self._lock = threading.Lock()

    def place(self, at: float, samples: np.ndarray) -> None:
        pos = round(at * self.rate)
        with self._lock:
            if self._end is not None and abs(pos - self._end) <= SNAP_S * self.rate:
                pos = self._end  # the block after the last one
            elif self._end is not None and pos > self._end:
                self._clear(self._end, pos)  # a gap (underrun): silence was played
            self._write(pos, samples)
            self._end = pos + samples.shape[0]

    def cut(self, at: float) -> None:
        """Nothing placed from `at` on is played (the speaker was flushed)."""
        pos = round(at * self.rate)
        with self._lock:
            if self._end is not None and self._end > pos:
                self._clear(pos, self._end)
                self._end = pos

    def span(self, at: float, n: int) -> np.ndarray:
        pos = round(at * self.rate)
        with self._lock:
            idx = np.arange(pos, pos + n)
            out = self._ring[idx % self._ring.shape[0]].copy()
            if self._end is None:
                return np.zeros(n, np.int16)
            out[(idx >= self._end) | (idx < self._end - self._ring.shape[0])] = 0
            return out

    def _write(self, pos: int, samples: np.ndarray) -> None:
        idx = np.arange(pos, pos + samples.shape[0]) % self._ring.shape[0]
        self._ring[idx] = samples

    def _clear(self, start: int, end: int) -> None:
        end = min(end, start + self._ring.shape[0])
        self._ring[np.arange(start, end) % self._ring.shape[0]] = 0


class CardEcho:
    """One call's canceller on the microphone side of the sound card (voicebot.audio.echo by
    name: "webrtc", "speex", "off"), against the timeline of what the speaker played."""

    def __init__(self, name: str, rate: int) -> None:
        self.rate = rate
        self.played = Timeline(rate)
        self._aec: EchoCanceller | None = make_echo_canceller(name, rate) if name != "off" else None
        self._next: float | None = None  # capture time where the previous block ended

    def cancel(self, near: np.ndarray, captured_at: float) -> Audio:
        """The microphone block with the speaker's echo removed (`captured_at`: its ADC time)."""
        if self._aec is None:
            return Audio(near, self.rate)
        if self._next is not None and abs(captured_at - self._next) <= SNAP_S:
            captured_at = self._next  # contiguous with the previous block
        self._next = captured_at + near.shape[0] / self.rate
        far = self.played.span(captured_at + LEAD_S, near.shape[0])
        return self._aec.process(Audio(near, self.rate), Audio(far, self.rate))
