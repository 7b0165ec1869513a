"""The residual-echo gate behind the microphone call's canceller (voicebot/transports/mic_echo.py):
while the speaker plays, what is quieter than the speaker plus the measured echo path plus a margin
is taken for echo; until the path is measured, and never more permissively, 6 dB under the speaker."""

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


def _speak_for(card: CardEcho, seconds: float, mic_db: float | None, start: float = 1000.0) -> float:
    """The speaker plays a tone for `seconds` while the microphone hears it `mic_db` down (None:
    the microphone hears nothing of it); the time after."""
    blocks = round(seconds * RATE / BLOCK)
    for k in range(blocks + 1):
        _play(card, start + k * BLOCK / RATE, _tone(8000))
    for k in range(blocks):
        near = np.zeros(BLOCK, np.int16) if mic_db is None else _tone(8000 * 10 ** (mic_db / 20))
        card.cancel(near, start + k * BLOCK / RATE)
    return start + blocks * BLOCK / RATE


def test_an_echo_that_leaks_past_the_canceller_later_in_a_prompt_is_still_held_back():
    """AEC3 let the echo through whole 0.5-2 s into a prompt now and then (its output as loud as
    its input): the gate stays on behind it while the speaker plays."""
    card = _card()
    later = _speak_for(card, 2.0, -10)
    _play(card, later, _tone(8000))
    _play(card, later + BLOCK / RATE, _tone(8000))
    assert not card.cancel(_tone(8000 * 10 ** (-10 / 20)), later).samples.any()
    assert card.cancel(_tone(8000 * 10 ** (-3 / 20)), later + BLOCK / RATE).samples.any()  # a caller over it


def test_on_a_microphone_that_hears_no_echo_a_quiet_caller_still_gets_through():
    """A headset: the path's loss sinks to the noise floor, and so does the gate, once measured."""
    card = _card()
    later = _speak_for(card, 1.0, None)
    _play(card, later, _tone(8000))
    assert card.cancel(_tone(8000 * 10 ** (-25 / 20)), later).samples.any()


def test_before_the_echo_path_is_measured_a_quiet_caller_is_taken_for_echo():
    card = _card()
    later = _speak_for(card, 0.2, None)
    _play(card, later, _tone(8000))
    assert not card.cancel(_tone(8000 * 10 ** (-25 / 20)), later).samples.any()


def test_a_caller_talking_over_the_prompt_does_not_raise_the_gate():
    """A headset: no echo, then the caller talks over the prompt 12 dB under it for 3 s; the
    canceller leaves them whole, so they are no echo to measure, and they stay heard."""
    card = _card()
    later = _speak_for(card, 1.0, None)
    for k in range(300):
        _play(card, later + (k + 1) * BLOCK / RATE, _tone(8000))
        assert card.cancel(_tone(8000 * 10 ** (-12 / 20)), later + k * BLOCK / RATE).samples.any(), k


def test_silence_played_does_not_count_as_hearing_the_speaker():
    card = _card()
    for k in range(100):  # 1 s of the speaker playing nothing: the gate still waits
        card.cancel(_tone(50), 1000.0 + k * BLOCK / RATE)
    _play(card, 1000.0 + 100 * BLOCK / RATE, _tone(8000))
    assert not card.cancel(_tone(8000 * 10 ** (-10 / 20)), 1000.0 + 100 * BLOCK / RATE).samples.any()


def test_an_echo_heard_before_the_timeline_places_its_block_is_still_held_back():
    """PortAudio placed a stream's first block 0.85 s later than the card played it: its echo
    comes back where the timeline is silent; what was handed to the card just before gates it."""
    card = _card()
    card.play(_tone(8000), read_at=50.0, heard_at=1000.85)
    assert not card.cancel(_tone(8000 * 10 ** (-10 / 20)), 1000.05, arrived=50.1).samples.any()
    card = _card()
    card.play(_tone(8000), read_at=50.0, heard_at=1000.04)
    later = mic_echo.READ_WINDOW_S + 0.2  # long after it was read and heard: no gate
    assert card.cancel(_tone(8000 * 10 ** (-30 / 20)), 1000.0 + later, arrived=50.0 + later).samples.any()
