"""Caller audio in sequence order, the moment it is in order.

A jitter buffer that holds a fixed prefetch (aiortp's held three packets) delays every frame of
every call by that much, although the Session on the other side needs no steady clock: it counts
samples, so a burst after a hold-up costs nothing but the hold-up. Here a packet that continues
the stream goes out at once; only a gap makes packets wait, and only as long as packets on this
line have been seen to arrive late (reordering): on a clean line that is never, on a jittery one
the wait grows to what was measured. A gap the wait gives up on is concealed (the last frame
faded out); a packet that comes after its gap was given up is dropped and makes the next wait
longer. RFC 4733 events and comfort noise take sequence numbers too: `skip` marks them, so they
are never taken for loss."""

from __future__ import annotations

from dataclasses import dataclass

MIN_WAIT_S = 0.02  # a gap on a line never seen reordering: one packet time, then it is loss
MAX_WAIT_S = 0.2
DECAY = 0.999  # per in-order packet: the wait halves back towards MIN_WAIT_S in ~14 s of audio
MAX_HELD = 16  # packets behind one gap; more and the gap is loss whatever the wait
_SKIP = b""  # a slot taken by a non-audio packet


def _ahead(seq: int, ref: int) -> int:
    """How far `seq` is after `ref` in the 16-bit sequence space (negative: before)."""
    d = (seq - ref) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d


@dataclass(frozen=True)
class Frame:
    """One packet's payload in order, after `lost` packets that never came (to be concealed)."""

    payload: bytes
    lost: int = 0


class Reorder:
    def __init__(self) -> None:
        self._next: int | None = None  # the sequence number the stream continues with
        self._held: dict[int, bytes] = {}
        self._gap_since: float | None = None  # when the oldest open gap was first seen
        self._given_up: dict[int, float] = {}  # seq of a concealed gap → when that gap opened
        self.wait_s = MIN_WAIT_S
        self.reordered = 0  # packets that filled a gap in time
        self.late = 0  # packets that came after their gap was concealed
        self.lost = 0

    @property
    def waiting(self) -> bool:
        """A gap holds packets back (`expire` must be called by `deadline`)."""
        return self._gap_since is not None

    @property
    def deadline(self) -> float:
        return (self._gap_since or 0.0) + self.wait_s

    def reset(self) -> None:
        """A new source (SSRC): its sequence numbers start anew."""
        self._next, self._gap_since = None, None
        self._held.clear()
        self._given_up.clear()

    def push(self, seq: int, payload: bytes, now: float) -> list[Frame]:
        """An audio packet arrived; the frames it puts in order (often just itself)."""
        return self._place(seq, payload, now)

    def skip(self, seq: int, now: float) -> list[Frame]:
        """A packet that takes a sequence number without audio (an RFC 4733 event, comfort noise)."""
        return self._place(seq, _SKIP, now)

    def expire(self, now: float) -> list[Frame]:
        """The wait for the missing packet is over: conceal it and let the held ones go."""
        if self._gap_since is None or now < self.deadline:
            return []
        return self._give_up(now)

    def _place(self, seq: int, payload: bytes, now: float) -> list[Frame]:
        if self._next is None:
            self._next = seq
        ahead = _ahead(seq, self._next)
        if ahead < 0:
            opened = self._given_up.pop(seq, None)
            if opened is not None:  # it came, too late: wait longer for the next gap
                self.late += 1
                self._learn(now - opened)
            return []  # a duplicate, or too late to be played
        if seq in self._held:
            return []
        self._held[seq] = payload
        if ahead > 0:
            if self._gap_since is None:
                self._gap_since = now
            if len(self._held) > MAX_HELD:
                return self._give_up(now)
            return []
        if self._gap_since is not None:  # the missing packet itself: how late it was
            self.reordered += 1
            self._learn(now - self._gap_since)
        else:
            self.wait_s = MIN_WAIT_S + (self.wait_s - MIN_WAIT_S) * DECAY
        return self._release(0, now)

    def _learn(self, lateness: float) -> None:
        self.wait_s = min(MAX_WAIT_S, max(self.wait_s, 1.5 * lateness + 0.01))

    def _release(self, lost: int, now: float) -> list[Frame]:
        """Every held packet from the stream's next one on that is in order."""
        out: list[Frame] = []
        while self._next in self._held:
            payload = self._held.pop(self._next)
            self._next = (self._next + 1) & 0xFFFF
            if payload is not _SKIP:
                out.append(Frame(payload, lost))
                lost = 0
        self._gap_since = now if self._held else None  # a later gap, seen as of now
        if lost:  # nothing audible after the loss yet: it is still concealed before the next frame
            out.append(Frame(b"", lost))
        return out

    def _give_up(self, now: float) -> list[Frame]:
        first = min(self._held, key=lambda s: _ahead(s, self._next))
        lost = _ahead(first, self._next)
        for k in range(lost):
            self._given_up[(self._next + k) & 0xFFFF] = self._gap_since or now
        while len(self._given_up) > 64:
            self._given_up.pop(next(iter(self._given_up)))
        self.lost += lost
        self._next = first
        return self._release(lost, now)
