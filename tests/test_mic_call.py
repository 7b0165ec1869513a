"""A live call through a (virtual) sound card: `voicebot call` records from PulseAudio's default
source and plays prompts to its default sink, through PortAudio's ALSA→PulseAudio plugin, as on a
desktop. The "caller" is a second program that waits for the bot to stop talking, then plays its
turn into the microphone (a null sink whose monitor is the default source), or types keys in the
terminal the call runs in (a pty). Barge-in on the live line: tests/test_mic_bargein.py."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pulse_support import MonitorTap, start_pulse, stop_pulse

from voicebot.speechgen import speak
from secret_support import without_random_hex

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


def test_the_bots_own_voice_fed_back_does_not_interrupt_it(pulse, tmp_path):
    """The speaker's output comes back into the microphone 10 dB down (an open speakerphone):
    the greeting, the menu and, after 6 s without an answer, the re-prompt (the prompt after a
    long pause, where AEC3 once let its echo through) all play without a pause."""
    subprocess.run(["pactl", "load-module", "module-loopback", "source=bot.monitor", "sink=caller",
                    "latency_msec=60"], env=pulse, check=True, capture_output=True)
    subprocess.run(["pactl", "set-sink-volume", "caller", "-10dB"], env=pulse, check=True)
    with MonitorTap(pulse, "caller.monitor") as mic:
        since = time.monotonic()
        proc = _call(pulse, tmp_path, 14)
        out, err = proc.communicate(timeout=180)
        heard = mic.sounding_for(since)
    record = json.loads(out)
    # the echo did reach the microphone (the bot's prompts, ~9 s of them, came back)
    assert heard >= 3.0 and len(record["turns"]) >= 2, (heard, err[-2000:])
    assert record["turns"][0]["bot"]["interrupted"] is False, err[-2000:]
    assert "talks over the prompt" not in err, err[-2000:]


def _wait_turn(monitor: SinkMonitor, quiet_s: float = 1.0, timeout: float = 120.0) -> None:
    """Until the bot has said something and then been quiet for `quiet_s` (its question asked)."""
    deadline, spoke, quiet = time.monotonic() + timeout, False, 0
    while time.monotonic() < deadline:
        talking = monitor.talking()
        spoke, quiet = spoke or talking, 0 if talking else quiet + 1
        if spoke and quiet * 0.05 >= quiet_s:
            return
        time.sleep(0.05)
    raise AssertionError("the bot never finished a prompt")


def test_keyboard_digits_are_dtmf_in_a_live_call(pulse, tmp_path):
    """The whole demo-bank call keyed in a terminal (a pty: the keys reach the call as a user's
    keystrokes do, and the live panel is drawn on it): "1" over the greeting (balance), the
    customer number, the PIN, "2" (nothing else), "5" (rating)."""
    from voicebot.store import open_store

    db = f"sqlite:///{tmp_path / 'mic.db'}"
    open_store(db, demo=True)  # the demo bank's customers, as `voicebot db init --demo` adds them
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    screen = bytearray()

    def drain() -> None:  # a terminal nobody reads would block the panel's writes
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            screen.extend(data)

    monitor = SinkMonitor(pulse)
    proc = subprocess.Popen([*VOICEBOT, "call", "--json", "-", "--max-seconds", "150", "--db", db],
                            env={**pulse, "TERM": "xterm-256color"}, stdin=slave, stderr=slave,
                            stdout=subprocess.PIPE, text=True)
    os.close(slave)
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        _wait_talking(monitor, timeout=180)
        time.sleep(1.0)
        os.write(master, b"1")  # over the greeting: it stops, and the menu's answer is "balance"
        for keys in (b"12345678", b"2468", b"2", b"5"):
            _wait_turn(monitor)
            os.write(master, keys)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
        monitor.close()
        reader.join(5)
        os.close(master)
    shown = screen.decode("utf-8", "replace")
    assert proc.returncode == 0, shown[-3000:]
    record = json.loads(out)
    assert record["authenticated"] is True and record["intents"] == ["check_balance"], shown[-3000:]
    assert record["turns"][0]["bot"]["interrupted"] is True  # the key stopped the greeting
    assert record["outcome"] == "self_service" and record["csat"] == 5
    assert "voicebot call" in shown and "****" in shown  # the live panel, keys at the ID prompt masked
    assert "12345678" not in shown and "2468" not in without_random_hex(shown)
