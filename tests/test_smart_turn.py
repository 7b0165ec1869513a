"""Smart Turn v3.2 (the ONNX in the pipecat-ai wheel) on rendered caller turns over a quiet
8 kHz telephone line (Piper voice): it scores sentences that end higher than the same sentences
cut off mid-way with mid-sentence prosody. Aggregates with a margin, not exact floats. (How far
this carries to noisy lines and robotic voices is measured by scripts/eval_endpointing.py: not
far enough to adopt it, docs/realtime.md.)"""

from __future__ import annotations

import numpy as np
import pytest

from voicebot.audio.types import Audio
from voicebot.turngen import DEV_SENTENCES, RATE, REPORT_SENTENCES, turn
from voicebot.vad.smart_turn import EndOfTurn, smart_turn

pytestmark = pytest.mark.slow

PAUSE = int(0.21 * RATE)  # the model is asked after a short pause


def _at_pause(model: EndOfTurn, t) -> float:
    return model.probability(Audio(t.audio.samples[: t.speech_end + PAUSE], RATE))


def test_end_of_turn_prefers_complete_over_cut_off_turns():
    model = smart_turn()
    complete, cut = [], []
    for text, k in DEV_SENTENCES + REPORT_SENTENCES:
        try:
            cut_off = turn(text, "piper", k, snr_db=90.0)
        except ValueError:  # Whisper could not align this render word by word
            continue
        complete.append(_at_pause(model, turn(text, "piper", snr_db=90.0)))
        cut.append(_at_pause(model, cut_off))
    complete, cut = np.array(complete), np.array(cut)
    assert len(complete) >= 12
    assert complete.mean() - cut.mean() >= 0.05, (complete.round(2), cut.round(2))
    assert (complete > cut).mean() > 0.5, (complete.round(2), cut.round(2))  # 11 of 16 here


def test_probability_takes_any_rate_and_length():
    model = smart_turn()
    short = Audio(np.zeros(800, np.int16), 8000)  # 0.1 s at 8 kHz: padded to the 8 s window
    long = Audio((np.random.default_rng(0).normal(0, 300, 16000 * 10)).astype(np.int16), 16000)
    for audio in (short, long):
        p = model.probability(audio)
        assert 0.0 <= p <= 1.0
