"""One call's echo canceller on the transport side of the Session: caller audio as the transport
pushed it (the line's rate, before the Session resamples it) against the bot audio the transport
read, at that same rate — the way voicebot.audio.echo expects it. Cancelling after resampling an
8 kHz line to 16 kHz, against a 16 kHz reference that has content the line never carried, left
the WebRTC canceller at 1-4 dB instead of 20+ (scripts/eval_session_bargein.py).

Alignment: the bot audio read is a queue; each caller block is cancelled against as many samples
of it. When the transport pushes its first caller frame before reading any bot audio, the queue
starts primed with one push of silence, so a push-then-read transport never finds it short (a
shortfall padded with zeros would shift the reference against the echo for the rest of the call);
its echo arrives at least one frame after the read anyway. A read-first transport gets no prime
(a loudspeaker's echo can come back within 5 ms). The canceller estimates the remaining delay
(sound-card buffers, the line's round trip). Caller audio is processed in whole 10 ms blocks: 10,
20 and 30 ms frames pass without delay; other sizes wait for the rest of their block."""

from __future__ import annotations

import numpy as np

from voicebot.audio import Audio
from voicebot.audio.echo import BLOCK_MS, EchoCanceller, make_echo_canceller
from voicebot.pipeline.framing import Resampler

FAR_KEEP_S = 1  # reference audio kept when a transport reads far ahead of what it pushes


class EchoInput:
    def __init__(self, name: str = "off") -> None:
        self.name = name
        self.rate: int | None = None  # the rate of the first caller push
        self._aec: EchoCanceller | None = None
        self._early: list[Audio] = []  # bot audio read before the first caller push
        self._far = np.zeros(0, np.int16)
        self._near = np.zeros(0, np.int16)
        self._to_rate: Resampler | None = None

    def played(self, bot: Audio) -> None:
        """The bot audio the transport just read (any rate; converted to the caller's)."""
        if self.name == "off":  # nothing to cancel against: no reference kept (a SIP line's default)
            return
        if self._to_rate is None:
            self._early.append(bot)
            return
        samples = self._to_rate(bot)
        self._far = np.concatenate([self._far, samples])[-FAR_KEEP_S * self.rate :]

    def cancel(self, near: Audio) -> Audio:
        """The caller audio with the bot's echo removed (whole 10 ms blocks of it)."""
        near = near.to_mono()
        if self.name == "off":
            return near
        if self._aec is None:
            self._start(near)
        block = self.rate * BLOCK_MS // 1000
        data = np.concatenate([self._near, near.samples]) if self._near.size else near.samples
        whole = data.shape[0] // block * block
        self._near = data[whole:].copy()
        if not whole:
            return Audio(np.zeros(0, np.int16), self.rate)
        far, self._far = self._far[:whole], self._far[whole:]
        far = np.pad(far, (0, whole - far.shape[0]))
        return self._aec.process(Audio(np.ascontiguousarray(data[:whole]), self.rate), Audio(far, self.rate))

    def _start(self, near: Audio) -> None:
        self.rate = near.rate
        self._aec = make_echo_canceller(self.name, near.rate)
        self._to_rate = Resampler(near.rate)
        # A transport that pushed before it read anything needs the reference one push behind
        # (primed with silence); one that reads first has it in time already.
        self._far = np.zeros(0 if self._early else near.num_samples, np.int16)
        for bot in self._early:
            self.played(bot)
        self._early = []
