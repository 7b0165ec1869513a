"""Barge-in on a live line: `voicebot call` on a private PulseAudio server (no sound card), the
caller played into the microphone (null sink `caller`, whose monitor is the default source), the
bot's voice measured where a speaker would play it (the `bot` sink's monitor).

What is measured, and how (tests/pulse_support.py): two parec taps, one on the microphone
(`caller.monitor`: exactly what the bot's input stream is fed) and one on the speaker
(`bot.monitor`), time every 10 ms block by its sample position on one monotonic clock. The
caller's onset is read on the microphone tap (the first block within 35 dB of the utterance's
loudest, as scripts/eval_bargein.py defines it), not from when `paplay` was started, so the
player's start-up and buffers are outside the figure. The stop is the first block of a 500 ms
quiet stretch on the speaker tap. In between lies everything of the bot: PortAudio's input buffer
(10 ms blocks and latency), the Session's detector, the flush of the output buffer, and
PulseAudio's own delivery to the sink. The rig's own error between the two taps is measured in
the same run, a click played into both sinks at once through a combine sink (`tap_offset`), and
subtracted; it is a few ms. Block quantisation only makes the figure larger (onset rounded down,
stop rounded up to a 10 ms block)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from pulse_support import MonitorTap, RigOffset, play_into, start_pulse, stop_pulse, tap_offset, wait_until

from voicebot.speechgen import speak

pytestmark = pytest.mark.slow  # pulseaudio, pactl, parec and paplay come from scripts/setup.sh

VOICEBOT = [sys.executable, "-m", "voicebot"]
# The goal: 200 ms from the caller's onset to the bot's audio gone from the speaker. The
# only tolerance is the measurement's own: onset and stop are 10 ms blocks, the onset's rounded
# down and the stop's rounded up (each tap's clock anchor is one block's start; the rig's offset
# between the taps is measured and subtracted). Measured 70-190 ms in 24 of 25 runs at load
# 3.4-9.1, once 229 ms at load 8.4 (docs/realtime.md); the echo canceller's suppressor had held it
# at 380 ms before it stepped aside on an echo-free line.
STOP_BOUND_S = 0.200 + 2 * 0.010
# One long sentence (no pause between sentences where a caller's onset could fall): the greeting
# plays ~8 s, and the caller talks 1 s into it.
LONG_GREETING = ("Thank you for calling Demo Bank, where every call is recorded for quality and "
                 "training purposes, and by staying on the line you agree to our privacy notice.")


@dataclass
class Line:
    env: dict[str, str]
    mic: MonitorTap
    bot: MonitorTap
    rig: RigOffset  # the speaker tap's reading minus the microphone tap's, for one sound

    @property
    def offset(self) -> float:
        return self.rig.seconds


@pytest.fixture
def line(tmp_path):
    env = start_pulse(tmp_path)
    try:
        with MonitorTap(env, "caller.monitor") as mic, MonitorTap(env, "bot.monitor") as bot:
            assert wait_until(lambda: mic.blocks() and bot.blocks(), 10), "parec delivered nothing"
            rig = tap_offset(env, tmp_path, mic, bot)
            assert abs(rig.seconds) <= 0.03, f"the two taps disagree by {rig.seconds * 1000:.0f} ms"
            yield Line(env, mic, bot, rig)
    finally:
        stop_pulse(env)


def flow_file(tmp_path: Path, barge_in: bool = True) -> Path:
    """The demo bank's flow with LONG_GREETING (and, if asked, `barge_in: false` on it)."""
    text = Path("flows/bank.yml").read_text()
    greeting, menu = '    say: "Welcome to Demo Bank."\n', "    expect: intent\n    dtmf: {\"1\": check_balance"
    assert greeting in text and menu in text
    text = text.replace(greeting, f'    say: "{LONG_GREETING}"\n', 1)
    if not barge_in:  # the greeting and the menu go out together: the menu's Ask decides
        text = text.replace(menu, "    expect: intent\n    barge_in: false\n    dtmf: {\"1\": check_balance", 1)
    path = tmp_path / "flow.yml"
    path.write_text(text)
    return path


def _call(line: Line, tmp_path: Path, seconds: float, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*VOICEBOT, "call", "--json", "-", "--max-seconds", str(seconds),
                             "--db", f"sqlite:///{tmp_path / 'mic.db'}", *extra],
                            env=line.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _greeting_started(line: Line, since: float, timeout: float = 180.0) -> float:
    assert wait_until(lambda: line.bot.first_sound_after(since) is not None, timeout), "the bot never spoke"
    return line.bot.first_sound_after(since)


def _talk_over_greeting(line: Line, tmp_path: Path, wav: Path, barge_in: bool = True) -> tuple[dict, str, float, float]:
    """Start a call, play `wav` into the microphone 1 s into the (long) greeting; (record,
    stderr, the caller's onset on the microphone tap, the greeting's start on the speaker tap)."""
    since = time.monotonic()
    proc = _call(line, tmp_path, 30, "--flow", str(flow_file(tmp_path, barge_in)))
    try:
        greeting = _greeting_started(line, since)
        time.sleep(max(0.0, greeting + 1.0 - time.monotonic()))
        played = time.monotonic()
        play_into(line.env, "caller", wav, wait=True)
        out, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
    onset = line.mic.onset_after(played)
    assert onset is not None, "the caller's audio never reached the microphone"
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out), err, onset, greeting


def test_caller_talking_over_a_prompt_stops_it_on_the_speaker(line, tmp_path):
    record, err, onset, _ = _talk_over_greeting(line, tmp_path, speak("I lost my debit card", "piper"))
    # The bot was talking when the caller started, and once stopped it stays quiet at least until
    # the caller's words are over (its answer needs them): a pause between words is not a stop.
    assert _sounding(line.bot, onset - 0.3, onset) >= 0.2, "no prompt to talk over"
    # (it held `said` + 300 ms of quiet from the stop: a bot answering within 0.45 s of the
    # caller's last word failed it, 4.3 s "late", on an idle machine)
    said = line.mic.silence_after(onset, hold_ms=300) - onset
    stopped = line.bot.silence_through(onset, until=onset + said + 0.1)
    assert stopped is not None, "the bot's audio never stopped"
    stop_s = round(stopped - onset - line.offset, 3)  # block times: ms are all there is
    load = os.getloadavg()[0]  # the audio path is real time: a starved machine delays it
    print(f"barge-in stop on the speaker: {stop_s * 1000:.0f} ms after the caller's onset "
          f"(rig offset {line.offset * 1000:+.0f} ms, {line.rig.measured * 1000:+.0f} ms when the click was heard; "
          f"load average {load:.1f})")
    first = record["turns"][0]["bot"]
    assert first["interrupted"] is True, err[-2000:]
    assert record["intents"][:1] == ["report_lost_card"], err[-2000:]  # the words were the answer
    assert stop_s <= STOP_BOUND_S, (f"{stop_s * 1000:.0f} ms at load average {load:.1f}", err[-1000:])


def test_a_cough_during_a_prompt_does_not_stop_it(line, tmp_path):
    """A cough-like burst (band-passed noise, sharp attack, decaying tail; 200 ms, as loud as
    speech: voicebot.linegen) into the microphone 1 s into the greeting: it plays on unbroken."""
    from voicebot.audio import write_wav
    from voicebot.linegen import burst

    cough = tmp_path / "cough.wav"
    write_wav(cough, burst("cough", 200, seed=3))
    record, err, onset, greeting = _talk_over_greeting(line, tmp_path, cough)
    first = record["turns"][0]["bot"]
    # not even paused (a pause is a "talks over the prompt" line), and played on past the cough
    assert first["interrupted"] is False and "talks over the prompt" not in err, err[-2000:]
    assert first["played_ms"] / 1000 >= onset + 1.0 - greeting
    assert record["intents"] == []


def test_a_prompt_that_cannot_be_interrupted_plays_to_the_end(line, tmp_path):
    """`barge_in: false` on the menu (the greeting goes out with it): the caller talks 1 s in,
    the prompt plays through and to its end; the words said over it are not an answer."""
    record, err, onset, greeting = _talk_over_greeting(line, tmp_path, speak("I lost my debit card", "piper"),
                                                       barge_in=False)
    said = line.mic.silence_after(onset, hold_ms=300) - onset
    # the bot talked through the caller (a barge-in would have silenced it ~0.2 s in; the rest
    # is the prompt's own pauses and, on a loaded machine, the sound card's underruns)
    assert _sounding(line.bot, onset, onset + said) >= 0.5 * said
    first = record["turns"][0]["bot"]
    assert first["interrupted"] is False and "talks over the prompt" not in err, err[-2000:]
    assert first["played_ms"] / 1000 >= onset + said - greeting  # it played on past the caller
    assert "report_lost_card" not in record["intents"]


def _sounding(tap: MonitorTap, start: float, end: float, threshold_dbfs: float = -45.0) -> float:
    """Seconds of sound between `start` and `end` (a sound card's underrun leaves short gaps)."""
    return 0.01 * sum(1 for at, level in tap.blocks() if start <= at < end and level > threshold_dbfs)
