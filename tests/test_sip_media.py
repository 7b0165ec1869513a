"""The worker's one media thread (voicebot/transports/sip/media.py): it paces several calls on one
20 ms clock without drifting, hands each call what is posted for it between ticks, and ends a
call whose step fails without stopping the others. Real thread and real clock, fake calls (the
SIP tests drive it with real peers: tests/test_sip_call.py and the rest)."""

from __future__ import annotations

import threading
import time

from voicebot.transports.sip.media import MediaThread


class Counting:
    def __init__(self, ticks: int, fail_at: int | None = None, media: MediaThread | None = None) -> None:
        self.ticks, self.fail_at, self.media = ticks, fail_at, media
        self.rounds: list[int] = []
        self.began_at: float | None = None
        self.at: list[float] = []
        self.got: list[tuple[str, object, int]] = []  # (kind, value, ticks so far)
        self.did_fail = False
        self.over = threading.Event()
        self.thread: str | None = None

    def began(self) -> None:
        self.began_at = time.monotonic()

    def handle(self, kind: str, value: object) -> bool:
        self.got.append((kind, value, len(self.at)))
        return kind != "hangup" or self._end()

    def tick(self) -> bool:
        self.thread = threading.current_thread().name
        self.at.append(time.monotonic())
        if self.media is not None:
            self.rounds.append(self.media.rounds)
        if self.fail_at is not None and len(self.at) == self.fail_at:
            raise RuntimeError("a broken call")
        return len(self.at) < self.ticks or self._end()

    def failed(self) -> None:
        self.did_fail = True
        self.over.set()

    def _end(self) -> bool:
        self.over.set()
        return False


def test_one_clock_paces_several_calls_every_20_ms_without_drift():
    media = MediaThread(name="call-test-media")
    calls = [Counting(50, media=media) for _ in range(4)]
    for call in calls:
        media.join(call)
    for call in calls:
        assert call.over.wait(30)
    assert media.calls == 0  # each left the clock after its last tick
    assert {call.thread for call in calls} == {"call-test-media"}  # one thread for all
    start = min(call.at[0] for call in calls) - media.tick_s * (min(call.rounds[0] for call in calls) - 1)
    for call in calls:
        assert len(call.at) == 50
        # one step in every round from the one it joined in, none skipped, none doubled
        assert call.rounds == list(range(call.rounds[0], call.rounds[0] + 50))
        # round r never starts before r × 20 ms on the clock: no tick is early and none is replayed
        # after a late wake-up, so a call's send clock cannot run ahead of real time
        assert all(t >= start + (r - 1) * media.tick_s - 1e-3 for r, t in zip(call.rounds, call.at))


def test_what_is_posted_is_handled_at_once_and_a_hang_up_ends_only_that_call():
    media = MediaThread(name="call-test-media")
    staying, leaving = Counting(10**6), Counting(10**6)
    media.join(staying)
    media.join(leaving)
    while len(staying.at) < 3:
        time.sleep(0.005)
    media.post(leaving, "audio", b"frame")
    media.post(leaving, "hangup", "caller hung up")
    assert leaving.over.wait(10)
    media.post(leaving, "audio", b"late packet")  # after its end: not handled
    ticks = len(staying.at)
    while len(staying.at) < ticks + 3:  # the other call goes on being paced
        time.sleep(0.005)
    assert [kind for kind, _, _ in leaving.got] == ["audio", "hangup"]
    assert media.calls == 1
    staying.handle("hangup", None)  # test clean-up: let it end at its next post
    media.post(staying, "hangup", None)


def test_a_call_whose_step_fails_is_ended_alone():
    media = MediaThread(name="call-test-media")
    broken, healthy = Counting(10**6, fail_at=5), Counting(30)
    media.join(broken)
    media.join(healthy)
    assert broken.over.wait(10) and broken.did_fail
    assert healthy.over.wait(10) and len(healthy.at) == 30 and not healthy.did_fail
    assert len(broken.at) == 5


def test_worker_threads_started_from_the_media_thread_carry_their_own_os_names():
    """A thread inherits its creator's OS name: pool workers started from the media thread were
    all called call-…, and the benchmark counted their work (renders, turns) as audio path."""
    import sys

    from voicebot.pipeline.workers import shared_pool

    if not sys.platform.startswith("linux"):
        return

    def comm() -> str:
        return open(f"/proc/self/task/{threading.get_native_id()}/comm").read().strip()

    names: list[str] = []
    media = MediaThread(name="call-test-media")

    class Starting(Counting):
        def began(self) -> None:  # on the media thread: the pool's threads start from here
            names.append(comm())
            names.extend(f.result() for f in [shared_pool().submit(comm) for _ in range(3)])
            self.over.set()

    call = Starting(1)
    media.join(call)
    assert call.over.wait(30)
    assert names[0] == "call-test-media"
    assert all(name.startswith("voicebot-worker") for name in names[1:])


def test_with_no_call_the_thread_sleeps_until_one_joins():
    """An idle worker's media thread does not tick: no rounds pass while no call is on it, and a
    call that joins later is paced from then on."""
    media = MediaThread(name="call-test-media")
    first = Counting(3, media=media)
    media.join(first)
    assert first.over.wait(10)
    rounds = media.rounds
    time.sleep(0.2)  # ten ticks' worth of nothing to pace
    assert media.rounds == rounds
    second = Counting(3, media=media)
    media.join(second)
    assert second.over.wait(10) and second.rounds == list(range(rounds + 1, rounds + 4))
