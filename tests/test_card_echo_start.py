"""The start of a microphone call: until the canceller has heard 0.5 s of the speaker, what is
quieter than the speaker by 6 dB is taken for its echo (voicebot/transports/mic_echo.py)."""

from __future__ import annotations

import numpy as np

from voicebot.audio import Audio
from voicebot.transports import mic_echo
from voicebot.transports.mic_echo import CardEcho

RATE, BLOCK = 16000, 160


class PassThrough:
    """A canceller that cancels nothing, so the gate alone is seen."""

    def process(self, near: Audio, far: Audio) -> Audio:
        return near


def _card() -> CardEcho:
    card = CardEcho("off", RATE)
    card._aec = PassThrough()
    return card


def _tone(level: float, n: int = BLOCK) -> np.ndarray:
    return (level * np.sin(np.arange(n) * 2 * np.pi * 440 / RATE)).astype(np.int16)


def _play(card: CardEcho, at: float, block: np.ndarray) -> None:
    card.played.place(at + mic_echo.LEAD_S, block)  # the block a microphone block at `at` is cancelled against


def test_the_speakers_first_echo_is_held_back_and_a_louder_caller_is_not():
    card, speaker = _card(), _tone(8000)
    for k in range(3):
        _play(card, 1000.0 + k * BLOCK / RATE, speaker)
    echo = card.cancel(_tone(8000 * 10 ** (-10 / 20)), 1000.0)  # the echo, 10 dB down
    caller = card.cancel(_tone(8000 * 10 ** (-3 / 20)), 1000.0 + BLOCK / RATE)  # louder than the echo gate
    assert not echo.samples.any()
    assert caller.samples.any()


def test_once_the_canceller_has_heard_the_speaker_the_gate_steps_aside():
    card, speaker = _card(), _tone(8000)
    blocks = int(mic_echo.CONVERGE_S * RATE / BLOCK) + 1
    for k in range(blocks + 1):
        _play(card, 1000.0 + k * BLOCK / RATE, speaker)
    for k in range(blocks):
        card.cancel(_tone(8000 * 10 ** (-10 / 20)), 1000.0 + k * BLOCK / RATE)
    later = card.cancel(_tone(8000 * 10 ** (-10 / 20)), 1000.0 + blocks * BLOCK / RATE)
    assert later.samples.any()  # from here on only the canceller decides


def test_silence_played_does_not_count_as_hearing_the_speaker():
    card = _card()
    for k in range(100):  # 1 s of the speaker playing nothing: the gate still waits
        card.cancel(_tone(50), 1000.0 + k * BLOCK / RATE)
    _play(card, 1000.0 + 100 * BLOCK / RATE, _tone(8000))
    assert not card.cancel(_tone(8000 * 10 ** (-10 / 20)), 1000.0 + 100 * BLOCK / RATE).samples.any()
