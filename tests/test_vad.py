"""VAD endpointing on real synthesized speech: start/end events, multi-turn cutting."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot.audio import Audio, read_wav
from voicebot.events import SpeechEnded, SpeechStarted
from voicebot.speechgen import TELEPHONE, with_silence
from voicebot.vad import Endpointer, VadConfig, split_utterances
from voicebot.vad.endpointer import endpoint

TURNS = ["I lost my card", "my customer number is one two three four", "no that is all thank you"]


@pytest.fixture(scope="module")
def three_turns(speak) -> tuple[Audio, list[float]]:
    paths = [speak(t, "flite:kal") for t in TURNS]
    durations = [read_wav(p).duration for p in paths]
    return with_silence(paths, gap_s=1.5), durations


def test_cuts_a_multi_turn_recording_into_its_utterances(three_turns):
    audio, durations = three_turns
    utterances = split_utterances(audio)
    assert len(utterances) == 3
    for utt, expected in zip(utterances, durations):
        assert utt.end > utt.start
        # Pre-roll and a short tail are kept, but no whole second of silence.
        assert expected - 0.3 < utt.audio.duration < expected + 0.9
    starts = [u.start for u in utterances]
    assert starts == sorted(starts) and 0.2 < starts[0] <= 0.7


def test_events_alternate_start_end_with_timestamps(three_turns):
    audio, _ = three_turns
    events = list(endpoint(audio.frames(30)))
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, SpeechEnded] * 3
    for started, ended in zip(events[::2], events[1::2]):
        assert started.start == pytest.approx(ended.start)


def test_silence_and_noise_floor_give_no_speech():
    assert split_utterances(Audio.silence(3.0)) == []
    hiss = Audio.from_float(np.random.default_rng(0).normal(0, 0.002, 48000), 16000)
    assert split_utterances(hiss) == []


def test_telephone_audio_is_endpointed(speak):
    audio = read_wav(speak("what are your branch opening hours", "piper", TELEPHONE))
    padded = Audio.silence(1.0, 8000) + audio + Audio.silence(1.0, 8000)
    utts = split_utterances(padded)
    assert len(utts) == 1 and 0.5 < utts[0].start < 1.2


def test_hang_over_controls_where_turns_split(three_turns):
    audio, _ = three_turns
    # A hang-over longer than the 1.5 s pauses merges all turns into one utterance.
    merged = split_utterances(audio, VadConfig(hang_over_ms=2400))
    assert len(merged) == 1


def test_flush_closes_open_utterance(speak):
    audio = read_wav(speak("hello there", "flite:kal")).canonical()
    ep = Endpointer(VadConfig(frame_ms=20))
    events = [e for f in audio.frames(20) for e in ep.push(f)]
    assert any(isinstance(e, SpeechStarted) for e in events)
    assert [type(e) for e in ep.flush()] in ([SpeechEnded], [])
    assert not ep.in_speech


def test_bad_config_is_rejected():
    with pytest.raises(ValueError):
        VadConfig(aggressiveness=5)
    with pytest.raises(ValueError):
        VadConfig(frame_ms=25)


def _close_sample(audio: Audio, config: VadConfig) -> tuple[int, list[SpeechEnded]]:
    ep, seen, ended = Endpointer(config, audio.rate), 0, []
    closed = None
    for frame in audio.frames(config.frame_ms):
        seen += frame.num_samples
        got = [e for e in ep.push(frame) if isinstance(e, SpeechEnded)]
        if got and closed is None:
            closed = seen
        ended += got
    return closed, ended


def _quiet_start(audio: Audio, config: VadConfig) -> tuple[int, int]:
    """Sample where the last stretch of `quiet_ms` and of `pause_ms` started (in an open utterance)."""
    ep, seen, quiet_from, pause_from = Endpointer(config, audio.rate), 0, None, None
    for frame in audio.frames(config.frame_ms):
        seen += frame.num_samples
        ep.push(frame)
        if ep.in_speech:
            quiet_from = seen - ep.quiet_ms * 16 if ep.quiet_ms else quiet_from
            pause_from = seen - ep.pause_ms * 16 if ep.pause_ms else pause_from
    return quiet_from, pause_from


def test_a_quiet_tail_counts_as_quiet_on_a_quiet_line_and_changes_nothing_else(speak):
    """On a clean line webrtcvad calls a word's fading tail speech; the pause gate counts it as
    quiet (the early end of turn's clock), while the hang-over and the recogniser's samples stay
    webrtcvad's: a turn that waits for the hang-over ends and is heard exactly as without it."""
    words = read_wav(speak("no thank you", "piper")).canonical()
    audio = words + Audio.silence(1.5)
    last_loud = int(np.flatnonzero(np.abs(words.samples.astype(np.int32)) > 500)[-1])
    gated, ended = _close_sample(audio, VadConfig(hang_over_ms=360, pause_below_db=40.0))
    plain, ended_plain = _close_sample(audio, VadConfig(hang_over_ms=360, pause_below_db=None))
    assert len(ended) == len(ended_plain) == 1
    assert gated == plain and gated - last_loud >= 360 * 16  # the hang-over is webrtcvad's
    kept = ended[0].audio.samples
    assert kept.shape[0] >= words.num_samples - int(0.35 * 16000)  # pre-roll aside, the words are all there
    assert np.array_equal(kept, ended_plain[0].audio.samples)  # the recogniser gets the very same samples
    quiet_from, pause_from = _quiet_start(audio, VadConfig(hang_over_ms=360, pause_below_db=40.0))
    assert quiet_from < pause_from and quiet_from >= last_loud - 30 * 16  # sooner, not inside the words
    assert _quiet_start(audio, VadConfig(hang_over_ms=360, pause_below_db=None)) == (pause_from, pause_from)


def test_the_pause_gate_changes_nothing_on_a_noisy_line(speak):
    noisy = read_wav(speak("no thank you", "piper", TELEPHONE)).canonical() + Audio.silence(1.5)
    noise = np.random.default_rng(0).normal(0, 300, noisy.num_samples)
    line = Audio(np.clip(noisy.samples + noise, -32768, 32767).astype(np.int16), noisy.rate)
    assert _close_sample(line, VadConfig(hang_over_ms=360, pause_below_db=40.0))[0] == \
        _close_sample(line, VadConfig(hang_over_ms=360, pause_below_db=None))[0]
