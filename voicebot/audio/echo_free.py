"""A line that carries no echo of the bot (a headset, a phone handset's own echo control, a
soft-phone) passes the caller's audio untouched instead of through WebRTC AEC3's suppressor.

Why: AEC3 starts out assuming an echo path of gain ~1 and, until its filter has found an echo to
converge on, suppresses near-end audio while the far end talks. On a line with echo it converges
within a second and then lets double talk through (the caller over a prompt: paused ~100 ms after
the onset, docs/realtime.md). On a line with *no* echo there is nothing to converge on: a caller
who talks 1 s into a prompt was attenuated 40-75 dB for the first ~0.5 s of their words, so the
barge-in detector fired 570 ms after the onset (tests/test_mic_bargein.py on PulseAudio measured
572 ms from onset to the Session's decision; scripts in docs/realtime.md reproduce it offline).

The rule, on 10 ms blocks of the aligned near (microphone) and far (what was played) streams:
while the bot is audibly playing (loudest far block of the last `DELAY_BLOCKS`, the echo delays
AEC3 covers, above `FAR_ACTIVE_DBFS`), a near block is *quiet* when it is `ERL_DB` below that far
level or under `FLOOR_DBFS` (either way too weak for the barge-in detector, which ignores chunks
under -50 dBFS). After `ENTER_BLOCKS` of bot speech with at most `ENTER_LOUD` loud blocks, and
no echo heard by correlation (below), the line is echo-free and the canceller's output is
replaced by its input.

Leaving is decided by what the microphone carries, not by how loud it is
(voicebot.audio.echo_detect): as soon as the microphone is a linear copy of the reference (the
bot's echo: explained share >= 0.55 over the last second), the canceller's output is back.
Deciding it by level (0.6 s of loud microphone in the last 1 s of bot speech) deadlocked on a
speakerphone: echo let through by the bypass paused the prompt (a barge-in within ~0.15 s), so
the bot never played long enough to count the echo as echo. The correlation is judged on the
last second, the pause included, so the echo that caused a pause is recognised after it. The
level rule stays as a fallback (`LEAVE_LOUD` loud blocks among the last `WINDOW_BLOCKS` of bot
speech) for an echo too distorted to correlate. A caller talking over a prompt is loud but not
a copy of it, so the bypass stays on for them.
The canceller keeps running on every block (its filter keeps adapting, for when echo appears).
Starting state: cancelling (a line is assumed to echo until shown otherwise).

Switching skips or repeats AEC3's internal delay (~8 ms at 16 kHz) once; it happens while only
the bot talks (entering) or while echo or a long sound is on the line (leaving)."""

from __future__ import annotations

from collections import deque

import numpy as np

from voicebot.audio.echo import BLOCK_MS, EchoCanceller
from voicebot.audio.echo_detect import EchoCorrelator, dbfs
from voicebot.audio.types import Audio

FAR_ACTIVE_DBFS = -45.0  # the bot is playing (its echo could be on the line)
ERL_DB = 40.0  # echo this far below the bot is below what any detector here reacts to
FLOOR_DBFS = -60.0
DELAY_BLOCKS = 25  # 250 ms: the echo delays AEC3 estimates
WINDOW_BLOCKS = 100  # 1 s of bot speech
ENTER_BLOCKS, ENTER_LOUD = 50, 5  # 0.5 s of bot speech, at most 50 ms of it loud: echo-free
LEAVE_LOUD = 60  # 0.6 s of the last 1 s of bot speech loud: echo (or a long sound): cancel again


class EchoFreeBypass:
    """Wraps a canceller (WebRTC AEC3) with the echo-free rule above; same Protocol."""

    def __init__(self, inner: EchoCanceller) -> None:
        self.inner, self.rate = inner, inner.rate
        self.reset()

    def reset(self) -> None:
        self.inner.reset()
        self.echo_free = False
        self._far_db: deque[float] = deque([-120.0] * DELAY_BLOCKS, maxlen=DELAY_BLOCKS)
        self._loud: deque[bool] = deque(maxlen=WINDOW_BLOCKS)  # per block of bot speech
        self._corr = EchoCorrelator(self.rate)

    def process(self, near: Audio, far: Audio) -> Audio:
        cleaned = self.inner.process(near, far)
        block = self.rate * BLOCK_MS // 1000
        n = near.to_mono().samples.reshape(-1, block)
        f = far.to_mono().samples.reshape(-1, block)
        out = cleaned.samples.reshape(-1, block).copy()
        for i in range(n.shape[0]):
            self._corr.push(n[i], f[i])
            self._far_db.append(dbfs(f[i]))
            self._judge(dbfs(n[i]), max(self._far_db))
            if self.echo_free:
                out[i] = n[i]
        return Audio(out.reshape(-1), self.rate)

    def _judge(self, near_db: float, far_db: float) -> None:
        if self._corr.echo:  # the microphone carries the bot's own voice: cancel it
            self.echo_free = False
        if far_db < FAR_ACTIVE_DBFS:
            return  # the bot is silent: nothing to learn about its echo
        self._loud.append(near_db >= max(far_db - ERL_DB, FLOOR_DBFS))
        if self.echo_free:
            self.echo_free = sum(self._loud) < LEAVE_LOUD
        elif len(self._loud) >= ENTER_BLOCKS and not self._corr.echo:
            self.echo_free = sum(list(self._loud)[-ENTER_BLOCKS:]) <= ENTER_LOUD

