"""The PulseAudio harness measures, on a sink's monitor, when audio stops: a WAV of 1.0 s of
sound then silence, played into the `bot` sink, is heard for ~1.0 s (within the tap's jitter)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from pulse_support import MonitorTap, play_into, start_pulse, stop_pulse, wait_until
from voicebot.audio.types import Audio
from voicebot.audio.wavio import write_wav

pytestmark = pytest.mark.slow  # pulseaudio, parec and paplay come from scripts/setup.sh


@pytest.fixture
def pulse(tmp_path):
    env = start_pulse(tmp_path)
    yield env
    stop_pulse(env)


def test_a_monitor_tap_measures_when_sound_stops(pulse, tmp_path):
    t = np.arange(16000) / 16000
    sound = 0.3 * np.sin(2 * np.pi * 440 * t)
    wav = tmp_path / "tone.wav"
    write_wav(wav, Audio.from_float(np.concatenate([sound, np.zeros(16000)]), 16000))
    with MonitorTap(pulse, "bot.monitor") as bot:
        assert wait_until(lambda: bot.blocks(), 10), "parec delivered nothing"
        started = time.monotonic()
        play_into(pulse, "bot", wav, wait=True)
        time.sleep(0.5)
    onset = bot.first_sound_after(started)
    stopped = bot.silence_after(onset)
    assert onset is not None and stopped is not None
    assert abs((stopped - onset) - 1.0) <= 2 * bot.resolution, stopped - onset
