"""The sound card's echo reference, aligned by time instead of by counting samples.

The speaker's echo in a microphone block is what the speaker played while that block was
captured. Counting samples read against samples pushed (the Session's own `EchoInput`, right for
a telephone line) goes wrong on a sound card whenever its output buffer is flushed (barge-in) or
runs dry (an underrun on a loaded machine): both change when the audio read so far is played, and
the echo then arrives before its reference, which AEC3 cannot model (3 of 3 live speakerphone
runs ended with a prompt cut by its own echo after a barge-in).

So each block read for the speaker is placed on a timeline where PortAudio says it will be heard
(`outputBufferDacTime`), each microphone block is looked up where it was heard, and a flush clears
the timeline from the moment it takes effect. Both times come from one clock (PortAudio's stream
time), but only at the events that move audio against it: the first block of a stream (the call's
start, the restart after a flush), a speaker block after an output underflow (the card played
silence), a microphone block after an input overflow (blocks lost). Between them each block
follows the previous one, sample for sample. Through ALSA's PulseAudio plugin the timestamps
scatter up to ±10 ms around the true times and wander by several ms over seconds, while the
samples flow without a gap: on the PulseAudio speakerphone (tests/test_mic_call.py) the echo's
delay behind the counted reference held within 1 ms for 14 s, while taking each timestamp that
differed by more than 4 ms at its word (the first version) jumped the reference back and forth by
up to a block, and re-anchoring on the median timestamp moved it 5 ms each time; either threw
AEC3 off the echo (its output as loud as its input for 0.1-0.3 s, the prompt paused by its own
voice). The reference is read `LEAD_S` later than the capture time, so two anchors' errors up to
that much still leave the echo after its reference (AEC3 estimates the remaining delay)."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from voicebot.audio import Audio
from voicebot.audio.echo import EchoCanceller, make_echo_canceller
from voicebot.audio.echo_detect import dbfs

KEEP_S = 2.0  # timeline kept (a pump starved this long only loses its reference)
LEAD_S = 0.02
# AEC3 on the PulseAudio speakerphone (tests/test_mic_call.py, echo at -10 dB) let its echo through
# now and then: about 1 call in 6 had its greeting paused by its own voice 0.26 s in, before it had
# heard enough of the speaker (2 of 11 idle runs), and later in a prompt too (0.5-2 s into the
# greeting or the re-prompt after a pause, its output as loud as its input; why was not pinned
# down). So a residual-echo gate (a Geigel double-talk test against the measured echo path) stays on
# behind the canceller: while the speaker plays, a block whose cancelled level is below what the
# speaker played plus the echo path's loss plus ECHO_MARGIN_DB is taken for echo and silenced; a
# caller louder than that passes. The loss is the EchoPath's estimate from the raw microphone
# against the speaker; until it has 0.5 s of the speaker (CONVERGE_S), and never more permissive
# than this, the gate holds back what is MAX_GATE_DB under the speaker (today's -10 dB echo
# included). On a microphone that hears no echo (a headset) the estimate sinks to the noise floor
# and the gate to nothing, so a quiet caller still barges in.
CONVERGE_S = 0.5
ECHO_MARGIN_DB = 6.0
MAX_GATE_DB = -6.0
PATH_KEEP_S = 5.0  # the echo path is measured on this much of the speaker, the newest
PATH_PERCENTILE = 95  # of raw microphone minus speaker: the echo's loud end
# The path is measured on blocks taken for echo: gated, or cut this much by the canceller. A caller
# talking over a prompt passes the gate and the canceller leaves them whole, so they do not raise
# it (they had: a headset caller 1 s into the greeting was gated 4 s long once the loss read theirs).
CANCELLED_DB = 10.0
# The speaker's level is its loudest 10 ms within this much around the block: a call's first
# anchor can be off by tens of ms (the echo of "Welcome" came back where the reference was silent).
SPEAKER_WINDOW_S = 0.15
SPEAKER_ACTIVE_DBFS = -60.8  # (an int16 RMS of 30) quieter than any prompt
# A safety net under the timeline: the speaker is also taken as what was handed to the card in the
# last READ_WINDOW_S before the microphone block arrived, both timed by the process's monotonic
# clock (an echo cannot arrive before its block was handed over, and arrives within the card's
# buffers and the room). At a stream's start PortAudio's own times could not be trusted: through
# ALSA's PulseAudio plugin, in 5 of 50 runs of tests/test_mic_call.py's fed-back call, the
# greeting's first 0.1 s came back at the microphone 0.1-0.85 s before the timeline placed it (and
# before the output callback's `currentTime` said it was read), ungated and uncancelled, and
# paused the greeting 0.26 s in ("Well.").
READ_WINDOW_S = 0.3


class EchoPath:
    """The echo's loss from the speaker to the raw microphone, in dB, from the newest PATH_KEEP_S
    of 10 ms blocks played; `gate_db` is how far under the speaker a cancelled block is taken for
    echo."""

    def __init__(self) -> None:
        self._losses: deque[float] = deque(maxlen=int(PATH_KEEP_S * 100))
        self._need = int(CONVERGE_S * 100)
        self._gate = MAX_GATE_DB
        self._since = 0

    def heard(self, near_db: float, speaker_db: float) -> None:
        self._losses.append(near_db - speaker_db)
        self._since += 1
        if len(self._losses) >= self._need and self._since >= 10:  # a percentile each 100 ms is plenty
            self._since = 0
            loss = float(np.percentile(np.fromiter(self._losses, float), PATH_PERCENTILE))
            self._gate = min(loss + ECHO_MARGIN_DB, MAX_GATE_DB)

    @property
    def gate_db(self) -> float:
        return self._gate


class Timeline:
    """Samples placed at absolute positions (stream time × rate) in a ring; unwritten is silence."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._ring = np.zeros(int(KEEP_S * rate), np.int16)
        self._end: int | None = None  # position after the last sample written
        self._anchor = True  # the next block starts a stream: placed at its own time
        self._lock = threading.Lock()

    def place(self, at: float, samples: np.ndarray, gap: bool = False) -> None:
        """The next block played: right after the previous one, or at `at` when the speaker
        started (again) or ran dry before it (`gap`, PortAudio's output underflow)."""
        with self._lock:
            pos = self._end
            if pos is None or gap or self._anchor:
                pos = round(at * self.rate)
                if self._end is not None and pos > self._end:
                    self._clear(self._end, pos)  # the silence the card played
            self._anchor = False
            self._write(pos, samples)
            self._end = pos + samples.shape[0]

    def cut(self, at: float) -> None:
        """Nothing placed from `at` on is played (the speaker was flushed); the next block placed
        starts a new stream, at its own time."""
        pos = round(at * self.rate)
        with self._lock:
            if self._end is not None and self._end > pos:
                self._clear(pos, self._end)
                self._end = pos
            self._anchor = True

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


def _loudest(samples: np.ndarray, block: int) -> float:
    """The level of the loudest whole `block` in `samples`, in one pass (it runs every 10 ms)."""
    rows = samples[: samples.shape[0] // block * block].reshape(-1, block).astype(np.float32)
    return dbfs(rows[int(np.argmax(np.einsum("ij,ij->i", rows, rows)))])


class RecentReads:
    """The level of each block handed to the speaker, by the time it was handed over."""

    def __init__(self) -> None:
        self._reads: deque[tuple[float, float]] = deque(maxlen=int(2 * READ_WINDOW_S * 100) + 8)
        self._lock = threading.Lock()

    def read(self, at: float, samples: np.ndarray) -> None:
        with self._lock:
            self._reads.append((at, dbfs(samples)))

    def loudest(self, before: float) -> float:
        with self._lock:
            levels = [db for at, db in self._reads if before - READ_WINDOW_S <= at <= before]
        return max(levels, default=-120.0)


class CardEcho:
    """One call's canceller on the microphone side of the sound card (voicebot.audio.echo by
    name: "webrtc", "speex", "off"), against the timeline of what the speaker played."""

    def __init__(self, name: str, rate: int) -> None:
        self.rate = rate
        self.played = Timeline(rate)
        self._aec: EchoCanceller | None = make_echo_canceller(name, rate) if name != "off" else None
        self._next: float | None = None  # capture time where the previous block ended
        self.path = EchoPath()
        self._reads = RecentReads()

    def play(self, samples: np.ndarray, read_at: float, heard_at: float, gap: bool = False) -> None:
        """A block handed to the speaker at `read_at` (monotonic clock), which PortAudio says is
        heard at `heard_at` (its stream time; `gap`: the card ran dry before it)."""
        self._reads.read(read_at, samples)
        self.played.place(heard_at, samples, gap=gap)

    def cancel(self, near: np.ndarray, captured_at: float, overflowed: bool = False,
               arrived: float | None = None) -> Audio:
        """The microphone block with the speaker's echo removed (`captured_at`: its ADC time;
        `overflowed`: blocks were lost before it; `arrived`: when its callback ran, monotonic)."""
        if self._aec is None:
            return Audio(near, self.rate)
        at = captured_at if self._next is None or overflowed else self._next
        self._next = at + near.shape[0] / self.rate
        far = self.played.span(at + LEAD_S, near.shape[0])
        out = self._aec.process(Audio(near, self.rate), Audio(far, self.rate))
        block = self.rate // 100
        around = self.played.span(at + LEAD_S - SPEAKER_WINDOW_S, near.shape[0] + round(2 * SPEAKER_WINDOW_S * self.rate))
        speaker = max(_loudest(around, block), self._reads.loudest(arrived) if arrived is not None else -120.0)
        if speaker <= SPEAKER_ACTIVE_DBFS:
            return out
        level, raw = dbfs(out.samples), dbfs(near)
        echo = level < speaker + self.path.gate_db
        if echo or level < raw - CANCELLED_DB:  # a caller over the prompt (passed, not cancelled) is no echo
            self.path.heard(raw, speaker)
        if echo:
            return Audio(np.zeros_like(out.samples), out.rate)  # the echo, or what is left of it
        return out
