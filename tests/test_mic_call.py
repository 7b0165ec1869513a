"""A live call through a (virtual) sound card: `voicebot call` records from PulseAudio's default
source and plays prompts to its default sink, through PortAudio's ALSA→PulseAudio plugin, as on a
desktop. The "caller" is a second program that waits for the bot to stop talking, then plays its
turn into the microphone (a null sink whose monitor is the default source)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pulse_support import start_pulse, stop_pulse

from voicebot.speechgen import speak

pytestmark = pytest.mark.slow  # pulseaudio, pactl and paplay come from scripts/setup.sh

VOICEBOT = [sys.executable, "-m", "voicebot"]


@pytest.fixture
def pulse(tmp_path):
    """A private PulseAudio server: sink `caller` (its monitor is the microphone), sink `bot` (the
    speaker). Returns the environment that points clients at it."""
    env = start_pulse(tmp_path)
    yield env
    stop_pulse(env)


class SinkMonitor:
    """What the speaker plays, heard on the `bot` sink's monitor (parec): the bot talks when its
    level is above line silence. The full-duplex call keeps the sink running with silence, so the
    sink's state says nothing; its audio does."""

    BLOCK_S = 0.05

    def __init__(self, env) -> None:
        self.levels: list[tuple[float, float]] = []  # (monotonic time, RMS) per 50 ms block
        self._proc = subprocess.Popen(["parec", "--device=bot.monitor", "--format=s16le", "--rate=16000",
                                       "--channels=1", "--raw", "--latency-msec=20"],
                                      env=env, stdout=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        size = int(16000 * self.BLOCK_S) * 2
        while True:
            data = self._proc.stdout.read(size)
            if not data:
                return
            pcm = np.frombuffer(data, "<i2").astype(float)
            self.levels.append((time.monotonic(), float(np.sqrt(np.mean(pcm * pcm)))))

    def talking(self) -> bool:
        return bool(self.levels) and self.levels[-1][1] > 200

    def close(self) -> None:
        self._proc.kill()


def _caller(monitor: SinkMonitor, env, turns: list[Path], log: list[str], stop: threading.Event) -> None:
    """Speak each turn once the bot has said something and then been quiet for 0.8 s."""
    for wav in turns:
        spoke, quiet = False, 0
        while not stop.is_set():
            talking = monitor.talking()
            spoke, quiet = spoke or talking, 0 if talking else quiet + 1
            if spoke and quiet >= 8:
                break
            time.sleep(0.1)
        if stop.is_set():
            return
        log.append(wav.name)
        subprocess.run(["paplay", "--device=caller", str(wav)], env=env, check=True)


def test_live_microphone_call_self_service_and_survey(pulse, tmp_path):
    turns = [speak(t, "piper") for t in ("what time does the branch open on saturday", "no thank you", "five")]
    played: list[str] = []
    stop = threading.Event()
    monitor = SinkMonitor(pulse)
    caller = threading.Thread(target=_caller, args=(monitor, pulse, turns, played, stop), daemon=True)
    caller.start()
    try:
        proc = subprocess.run([*VOICEBOT, "call", "--json", "-", "--max-seconds", "120",
                               "--db", f"sqlite:///{tmp_path / 'mic.db'}"],
                              env=pulse, capture_output=True, text=True, timeout=300)
    finally:
        stop.set()
        caller.join(5)
        monitor.close()
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(proc.stdout)
    said = [t["caller"]["intent"] for t in record["turns"] if t["caller"]["intent"]]
    assert len(played) == 3 and said[0] == "branch_hours", (played, said, proc.stderr[-2000:])
    assert record["outcome"] == "self_service" and record["csat"] == 5


# Runs `voicebot ARGS` with an import spy: every first import of a model runtime (and of
# sounddevice, which the microphone check uses) is written, in order, to the file in argv[1].
SPY = """
import importlib.abc, json, sys
WATCH = ("sounddevice", "faster_whisper", "ctranslate2", "onnxruntime", "piper", "torch",
         "transformers", "voicebot.nlu.runtime", "voicebot.asr.whisper")
seen = []
class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in WATCH:
            seen.append(name)
        return None
sys.meta_path.insert(0, Spy())
out = sys.argv[1]
sys.argv = ["voicebot", *sys.argv[2:]]
try:
    from voicebot.cli import main
    main()
finally:
    open(out, "w").write(json.dumps(seen))
"""


def _spied(args: list[str], tmp_path: Path, env: dict) -> tuple[subprocess.CompletedProcess, list[str]]:
    log = tmp_path / "imports.json"
    proc = subprocess.run([sys.executable, "-c", SPY, str(log), *args], env=env, capture_output=True,
                          text=True, timeout=300)
    return proc, json.loads(log.read_text())


def test_no_microphone_is_reported_before_models_load(tmp_path):
    # no PulseAudio server at this runtime dir and no sound card: PortAudio finds no input device
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path), "PULSE_SERVER": "unix:/nonexistent",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc, imported = _spied(["call", "--device", "no-such-mic", "--db", f"sqlite:///{tmp_path / 'x.db'}"],
                            tmp_path, env)
    assert proc.returncode == 2
    assert "microphone" in proc.stderr and "Traceback" not in proc.stderr
    assert imported == ["sounddevice"]  # the microphone was checked, and no model runtime loaded
    assert not (tmp_path / "x.db").exists()  # nor was the database opened

    # the spy does see models load: the same command path with text needs the NLU
    proc, imported = _spied(["replay", "--text", "what time does the branch open", "--tts", "none",
                             "--db", f"sqlite:///{tmp_path / 'y.db'}"], tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert "voicebot.nlu.runtime" in imported and "onnxruntime" in imported


def _call(pulse, tmp_path, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([*VOICEBOT, "call", "--json", "-", "--max-seconds", str(seconds),
                             "--db", f"sqlite:///{tmp_path / 'mic.db'}"],
                            env=pulse, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_talking(monitor: SinkMonitor, timeout: float = 120.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if monitor.talking():
            return time.monotonic()
        time.sleep(0.02)
    raise AssertionError("the bot never spoke")


def test_caller_interrupts_the_greeting_on_a_live_line(pulse, tmp_path):
    from voicebot.audio import read_wav

    wav = speak("I lost my debit card", "piper")
    audio = read_wav(wav)
    onset = int(np.flatnonzero(np.abs(audio.samples.astype(int)) > 500)[0]) / audio.rate
    monitor = SinkMonitor(pulse)
    proc = _call(pulse, tmp_path, 40)
    try:
        _wait_talking(monitor)
        time.sleep(1.0)  # a second into the greeting
        started = time.monotonic()
        subprocess.run(["paplay", "--device=caller", str(wav)], env=pulse, check=True)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        monitor.close()
    spoke_at = started + onset
    after = [(t, level) for t, level in monitor.levels if t >= spoke_at]
    quiet_at = next(t for t, level in after if level < 50)
    record = json.loads(out)
    assert record["turns"][0]["bot"]["interrupted"] is True, err[-2000:]
    assert record["intents"][:1] == ["report_lost_card"], err[-2000:]
    # measured on the speaker's monitor, through PulseAudio's own buffers (paplay, parec: ~100 ms)
    assert quiet_at - spoke_at < 0.5, (quiet_at - spoke_at, err[-1000:])


def test_the_bots_own_voice_fed_back_does_not_interrupt_it(pulse, tmp_path):
    """The speaker's output comes back into the microphone 10 dB down (an open speakerphone)."""
    subprocess.run(["pactl", "load-module", "module-loopback", "source=bot.monitor", "sink=caller",
                    "latency_msec=60"], env=pulse, check=True, capture_output=True)
    subprocess.run(["pactl", "set-sink-volume", "caller", "-10dB"], env=pulse, check=True)
    proc = _call(pulse, tmp_path, 14)
    out, err = proc.communicate(timeout=180)
    record = json.loads(out)
    assert record["turns"][0]["bot"]["interrupted"] is False, err[-2000:]
    assert "talks over the prompt" not in err
