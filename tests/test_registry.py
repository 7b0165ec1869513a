"""`load_together`: model loaders run side by side, results come back in order, errors surface."""

from __future__ import annotations

import threading

import pytest

from voicebot.registry import load_together


def test_loaders_run_at_once_and_results_keep_their_order():
    meet = threading.Barrier(3, timeout=30)  # breaks unless all three loaders wait at the same time

    def loader(value):
        def run():
            meet.wait()
            return value, threading.current_thread() is threading.main_thread()
        return run

    results = load_together(loader("nlu"), loader("asr"), loader("tts"))
    assert [v for v, _ in results] == ["nlu", "asr", "tts"]
    assert [on_main for _, on_main in results] == [True, False, False]  # the first one on this thread


def test_a_loader_caught_in_an_import_cycle_runs_again_alone():
    class _DeadlockError(RuntimeError):  # what importlib raises when two threads' imports cross
        pass

    tries = {"asr": 0}

    def asr():
        tries["asr"] += 1
        if tries["asr"] == 1:
            raise _DeadlockError("deadlock detected by _ModuleLock('voicebot.nlu')")
        return threading.current_thread() is threading.main_thread()

    assert load_together(lambda: "nlu", asr) == ["nlu", True] and tries["asr"] == 2


def test_other_errors_are_raised():
    with pytest.raises(ZeroDivisionError):
        load_together(lambda: 1, lambda: 1 / 0)
    with pytest.raises(RuntimeError, match="broken model"):
        load_together(lambda: (_ for _ in ()).throw(RuntimeError("broken model")), lambda: 2)


def test_loading_phase_pauses_collection_and_restores_it():
    import gc

    from voicebot.registry import loading_phase

    assert gc.isenabled()
    with loading_phase():
        assert not gc.isenabled()
        with loading_phase():  # Stack.load inside another loading phase
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with loading_phase():
            pass
        assert not gc.isenabled()  # a process that runs without the collector keeps it off
    finally:
        gc.enable()


def test_only_the_first_loading_phase_freezes(monkeypatch):
    import gc

    import voicebot.registry as registry

    gc.unfreeze()
    monkeypatch.setattr(registry, "_frozen_once", False)
    with registry.loading_phase():
        loaded = [object() for _ in range(10)]
    assert gc.get_freeze_count() >= len(loaded)  # the start's objects: out of the collector's way
    gc.unfreeze()
    with registry.loading_phase():  # a later Stack: calls' garbage is never frozen
        pass
    assert gc.get_freeze_count() == 0
