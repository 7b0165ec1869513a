"""A telephone answer's empty high band is filled (spectral folding) before Whisper hears a digit
string: narrowband audio is told from wideband audio, wideband audio is left alone, and a PIN that
Whisper misheard on an 8 kHz line (espeak "seven seven seven seven" → "7171") now authenticates
the call (voicebot/asr/bandwidth.py, docs/asr.md "Digit strings")."""

from __future__ import annotations

import numpy as np
import pytest

from test_calls_audio import WEEKDAY_NOON, flow, stack  # noqa: F401  (the bank flow, models loaded once)
from test_conversation_audio import set_pin

from voicebot.asr.bandwidth import EDGE_HZ, fold_high_band, is_narrowband, telephone_view
from voicebot.audio import read_wav
from voicebot.flow import CallEngine
from voicebot.pipeline import Session
from voicebot.speechgen import CLEAN, TELEPHONE
from voicebot.store import open_store
from voicebot.transports.replay import play_call


def high_band_share(samples: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    return float(power[int(EDGE_HZ * len(samples) / 16000) + 1:].sum() / power.sum())


@pytest.mark.slow
def test_only_narrowband_audio_is_folded(speak):
    line = read_wav(speak("two four six eight", "flite:slt", TELEPHONE)).canonical().to_float()
    wide = read_wav(speak("two four six eight", "flite:slt", CLEAN)).canonical().to_float()
    assert is_narrowband(line) and not is_narrowband(wide)
    assert telephone_view(wide) is wide  # a wideband answer is heard as it came
    folded = telephone_view(line)
    assert high_band_share(line) < 1e-5 < high_band_share(folded)
    # below the edge the answer is what the line carried
    low = int(EDGE_HZ * len(line) / 16000) - 40
    assert np.allclose(np.fft.rfft(folded)[:low], np.fft.rfft(line)[:low], atol=np.abs(np.fft.rfft(line)).max() * 0.02)


def test_silence_and_tiny_clips_are_not_narrowband_speech():
    assert not is_narrowband(np.zeros(1600, dtype=np.float32))
    assert fold_high_band(np.zeros(1600, dtype=np.float32)).shape == (1600,)


@pytest.mark.slow
@pytest.mark.parametrize("voice", ["espeak:en-us", "espeak:en-gb-scotland"])
def test_a_pin_of_sevens_on_a_telephone_line_authenticates(stack, flow, speak, tmp_path, voice):  # noqa: F811
    """Without the fold the en-gb-scotland PIN was heard as "7171" at both tries and the call
    failed (en-us's "Cameron, Cameron…" in the digit benchmark; in this call it passed either
    way). The request and the customer number are typed and keyed, so the call turns on the
    spoken PIN alone (said again, as a person would, when the bot asks again)."""
    store = open_store(f"sqlite:///{tmp_path / 'calls.db'}", demo=True)
    set_pin(store, "12345678", "7777")
    pin = read_wav(speak("seven seven seven seven", voice, TELEPHONE))
    session = play_call(Session(CallEngine(flow, store, now=WEEKDAY_NOON), stack),
                        ["what's my balance", "dtmf:12345678", pin, "no thanks", "dtmf:5"], patience=1)
    record = session.engine.record.to_dict()
    for t in record["turns"]:
        print(f"bot: {t['bot']['text']!r}\ncaller: {t['caller']['text']!r}")
    assert record["authenticated"] is True and record["outcome"] == "self_service"
