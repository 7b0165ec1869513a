"""The Session's audio-path parts on real speech: re-buffering and streaming resampling, the
playout queue's pause/resume/stop bookkeeping, and the echo-aware barge-in gate."""

from __future__ import annotations

import numpy as np
import webrtcvad

from voicebot.audio import Audio, read_wav
from voicebot.flow.record import Turn
from voicebot.pipeline.framing import FrameBuffer
from voicebot.pipeline.interrupt import SustainedSpeech
from voicebot.pipeline.playout import Playback, Playout


def test_any_packet_size_and_rate_becomes_whole_vad_frames(speak):
    line = read_wav(speak("I lost my card", "piper")).canonical().resample(8000)
    buffer = FrameBuffer(16000, 30)
    frames = []
    for start in range(0, line.num_samples, 170):  # odd 21.25 ms packets at 8 kHz
        frames += buffer.push(Audio(line.samples[start:start + 170], 8000))
    assert {f.num_samples for f in frames} == {480}
    streamed = np.concatenate([f.samples for f in frames]).astype(float)
    whole = line.resample(16000).samples.astype(float)[: streamed.shape[0]]
    # one continuous filter: no packet-edge artefacts, so the stream matches resampling in one go
    lag = int(np.argmax(np.correlate(streamed[:8000], whole[:8000], "full"))) - 7999
    diff = streamed[max(lag, 0):] - whole[: streamed.shape[0] - max(lag, 0)]
    assert np.sqrt(np.mean(diff ** 2)) < 0.05 * np.sqrt(np.mean(whole ** 2))


def test_playout_pauses_resumes_and_notes_what_was_heard():
    out, turn = Playout(16000), Turn()
    prompt = Playback("two sentences", turn, interruptible=True)
    out.add(prompt)
    out.append(prompt, np.full(8000, 1000, np.int16))
    assert out.read(4000).min() == 1000
    assert out.read(8000)[4000:].max() == 0  # underrun: the next sentence is still rendering
    out.append(prompt, np.full(8000, 2000, np.int16))
    out.rendered(prompt)
    out.pause()
    assert out.read(1600).max() == 0 and out.speaking  # paused for a possible barge-in
    out.resume()
    assert out.read(1600).min() == 2000  # resumed where it stopped
    out.stop()
    assert (turn.bot_interrupted, turn.bot_played_ms) == (True, 600)
    assert not out.speaking


def _frames(audio: Audio) -> list[Audio]:
    return list(audio.canonical().frames(30))


def _barges(caller: list[Audio], bot: list[Audio]) -> bool:
    vad, detector = webrtcvad.Vad(2), SustainedSpeech(30)
    return any(detector.hear(c, b, vad.is_speech(c.to_bytes(), 16000)).barge_in for c, b in zip(caller, bot))


def test_own_echo_does_not_barge_in_but_the_caller_does(speak):
    prompt = _frames(read_wav(speak("How can I help you today? You can say check my balance.", "piper")))
    delay = [Audio.silence(0.03)] * 3  # 90 ms echo path
    echo = [Audio((f.samples * 0.316).astype(np.int16), 16000) for f in delay + prompt]  # -10 dB
    assert not _barges(echo, prompt + delay)
    caller = _frames(Audio.silence(1.0) + read_wav(speak("I want to talk to a person", "flite:slt")).canonical())
    mixed = [Audio(np.clip(c.samples.astype(int) + e.samples, -32768, 32767).astype(np.int16), 16000)
             for c, e in zip(caller, echo)]
    assert _barges(mixed, prompt + delay)
