"""The synthesizer a SIP worker's calls share: renders in parallel slots, the first-clause split over
SIP, and a pool that waiting renders cannot fill (docs/sip-concurrency.md)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from voicebot.transports.sip.admission import GuardedPrompts, Limits, UrgentLock


def test_two_render_slots_let_two_in_and_hold_the_third():
    lock = UrgentLock(2)
    inside, release, entered = threading.Semaphore(0), threading.Event(), []

    def render(name: str) -> None:
        with lock.hold():
            entered.append(name)
            inside.release()
            release.wait(30)

    first = [threading.Thread(target=render, args=(n,)) for n in ("a", "b")]
    for t in first:
        t.start()
    assert inside.acquire(timeout=30) and inside.acquire(timeout=30)  # both in at once
    third = threading.Thread(target=render, args=("c",))
    third.start()
    assert not inside.acquire(timeout=0.3) and sorted(entered) == ["a", "b"]  # no third slot
    release.set()
    for t in (*first, third):
        t.join(30)
    assert sorted(entered) == ["a", "b", "c"]


class _Recording:
    """A synthesizer that notes what it is asked to render (the cache's real one underneath)."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.voice, self.texts = inner, inner.name, inner.voice, []

    def synthesize(self, text):
        self.texts.append(text)
        return self.inner.synthesize(text)


def test_a_personal_first_sentence_comes_in_two_over_sip(tmp_path):
    """SIP calls stream prompts through PromptCache.stream, so a personal first sentence is cut after
    its first clause as without SIP: the clause plays while the rest renders. (GuardedPrompts used
    to render whole sentences: one render of the full sentence before the caller heard anything.)"""
    from voicebot.pipeline.prompts import PromptCache

    cache = PromptCache("pyttsx3", rate=8000, directory=tmp_path)
    cache.synth = recording = _Recording(cache.synth)
    prompts = GuardedPrompts(cache, UrgentLock(2))
    text = "I've blocked your debit card ending four two right away, so nobody can use it. Goodbye now."
    parts = list(prompts.stream(text))
    assert recording.texts == ["I've blocked your debit card ending four two right away,",
                               "so nobody can use it.", "Goodbye now."]
    assert len(parts) == 3 and all(p.num_samples > 0 and p.rate == 8000 for p in parts)
    assert cache.cached("so nobody can use it.") is None  # personal: kept nowhere
    assert prompts.waiting == 0


def test_renders_go_through_the_slots_and_are_counted(tmp_path):
    """Every render of the cache (also its own split) waits for a slot; admission counts it."""
    from voicebot.pipeline.prompts import PromptCache
    from voicebot.transports.sip.admission import Admission

    cache = PromptCache("pyttsx3", rate=8000, directory=tmp_path)
    lock = UrgentLock(1)
    prompts = GuardedPrompts(cache, lock)
    assert GuardedPrompts(cache, lock)._synth is prompts._synth  # one guard per cache, however often wrapped
    admission = Admission(Limits(max_calls=50, max_decode_queue=50, max_render_queue=1), None, prompts)
    out: list = []
    with lock:  # every slot taken by other calls' renders
        reader = threading.Thread(target=lambda: out.extend(prompts.stream("Your balance is four dollars.")))
        reader.start()
        reader.join(0.5)
        held = reader.is_alive() and not out
        for _ in range(300):
            if prompts.waiting:
                break
            reader.join(0.1)
        refusal = admission.refuse(1)
    reader.join(60)
    assert held and refusal is not None and "synthesizer" in refusal
    assert out and out[0].num_samples > 0 and prompts.waiting == 0


def test_jobs_waiting_for_the_synthesizer_leave_workers_for_a_turn():
    """Every call's job waiting for a render slot, and a speculative decode per call waiting too,
    still leave a worker for another call's turn (the pool held cores + 8 workers: 12 SIP calls'
    waiting jobs took them all and a turn waited up to 1.4 s for one)."""
    from voicebot.pipeline.workers import Strand, shared_pool

    lock, ran = UrgentLock(1), threading.Event()

    def render() -> None:
        with lock.hold():
            pass

    with lock:  # a long render
        blocked = [shared_pool().submit(render) for _ in range(2 * Limits().max_calls)]
        Strand().submit(ran.set)  # another call's turn
        turn_ran = ran.wait(30)
    for job in blocked:
        job.result(30)
    assert turn_ran


@pytest.mark.slow
def test_two_piper_renders_at_once_give_the_audio_of_one_at_a_time():
    """Two renders in parallel slots share one Piper (one onnxruntime session, espeak-ng under
    piper's own lock): each must come out as it does alone. Without noise the voice is
    deterministic, so the samples are compared as they are."""
    from voicebot.tts.piper import PiperSynthesizer

    voice = PiperSynthesizer(noise_scale=0.0, noise_w_scale=0.0)
    texts = ["Your card ending in four five six seven is blocked now.",
             "A replacement will arrive in five to seven days, at the address we have on file."]
    alone = [voice.synthesize(t).samples for t in texts]
    for _ in range(3):
        together: list = [None, None]
        start = threading.Barrier(2)

        def render(i: int) -> None:
            start.wait(30)
            together[i] = voice.synthesize(texts[i]).samples

        threads = [threading.Thread(target=render, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for mine, reference in zip(together, alone):
            assert mine is not None and mine.shape == reference.shape
            assert np.abs(mine.astype(np.int32) - reference).max() <= 2


def test_no_silence_is_filled_while_the_callers_audio_is_ahead_of_the_clock():
    """After a comfort-noise packet the call fills the caller's silence at once; when a burst of
    packets has put the caller's audio ahead of the call's clock there is nothing to fill (it
    asked for a negative length of silence and the call failed: seen at 12 SIP calls)."""
    import time
    from types import SimpleNamespace

    from voicebot.transports.sip.call import SipCall

    given: list = []
    port = SimpleNamespace(subscribe=lambda listener: None, caller=given.append)
    leg = SimpleNamespace(jitter_ms=0.0, reorder=SimpleNamespace(wait_s=0.0))
    call = SipCall("ahead", port, leg, loop=None, on_end=lambda c, e: None, agent_uri=lambda t: None)
    call._started, call._heard_ms, call._line_quiet = time.monotonic(), 60_000, True
    call._fill_silence()
    assert given == [] and call._heard_ms == 60_000
    call._started -= 61.0  # a second of the caller's audio missing now
    call._fill_silence()
    assert len(given) == 1 and 0.9 <= given[0].duration <= 1.5 and call._heard_ms >= 61_000


def test_renders_run_below_the_decoders_priority(tmp_path):
    """A render runs on a render thread niced RENDER_NICE above the calling thread (the decoder
    keeps its priority), and comes back to the caller as it was rendered."""
    import os

    from voicebot.pipeline.prompts import PromptCache
    from voicebot.transports.sip.admission import RENDER_NICE

    class Noting(_Recording):
        def synthesize(self, text):
            self.nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            return super().synthesize(text)

    cache = PromptCache("pyttsx3", rate=8000, directory=tmp_path)
    cache.synth = noting = Noting(cache.synth)
    prompts = GuardedPrompts(cache, UrgentLock(2))
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    out = list(prompts.stream("Your balance is four dollars."))
    assert noting.texts == ["Your balance is four dollars."] and out[0].num_samples > 0
    assert noting.nice == min(19, mine + RENDER_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # the caller's own is untouched
