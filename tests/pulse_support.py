"""A private PulseAudio server for live-call tests, and taps that record a sink's monitor with
wall-clock times, to measure on the signal when the bot's audio stops after the caller starts.

    env = start_pulse(tmp_path)                  # sinks `caller` (the mic) and `bot` (the speaker)
    with MonitorTap(env, "bot.monitor") as bot, MonitorTap(env, "caller.monitor") as mic:
        ... run `voicebot call` with env; wait for bot.first_sound_after(t0) ...
        t_play = time.monotonic(); play_into(env, "caller", wav)
        onset = mic.first_sound_after(t_play)      # the caller's first syllable reaching the mic
        stopped = bot.silence_after(onset)         # playback's end, as heard on the speaker
        assert stopped - onset <= 0.2 + bot.resolution
    stop_pulse(env)

A monitor delivers samples continuously at the sink's rate (silence when nothing plays), but in
bursts; so a block's time is not its arrival but its sample position, on a clock anchored at the
earliest-arriving block (the one delayed least): t(block) = t0 + samples before it / rate, with
t0 = min over blocks of (arrival - samples up to its end / rate). Both taps use time.monotonic(),
so their times compare; `resolution` is the anchoring error to allow for."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

RATE = 16000
BLOCK = RATE // 100  # 10 ms


SINK_FORMAT = f"rate={RATE} channels=1 format=s16le"


def start_pulse(tmp_path: Path) -> dict[str, str]:
    """Start a private PulseAudio server (sink `caller`, whose monitor is the default source, and
    sink `bot`, the default sink) and return the environment that points clients at it. The sinks
    run at the call's 16 kHz mono, so no stream is resampled (the server's 48 kHz stereo default
    put a resampler, and its delay, on every path)."""
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path / "run"), "HOME": str(tmp_path)}
    Path(env["XDG_RUNTIME_DIR"]).mkdir(exist_ok=True)
    subprocess.run(["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "--system=false", "-n",
                    "--load=module-native-protocol-unix",
                    f"--load=module-null-sink sink_name=caller {SINK_FORMAT}",
                    f"--load=module-null-sink sink_name=bot {SINK_FORMAT}",
                    f"--log-target=file:{tmp_path / 'pulse.log'}"], env=env, check=True)
    for args in (["set-default-sink", "bot"], ["set-default-source", "caller.monitor"]):
        subprocess.run(["pactl", *args], env=env, check=True)
    return env


def stop_pulse(env: dict[str, str]) -> None:
    subprocess.run(["pulseaudio", "--kill"], env=env, check=False)


def play_into(env: dict[str, str], sink: str, wav: Path, wait: bool = False) -> subprocess.Popen:
    """Play a WAV into a sink (the caller speaking into the mic when sink is `caller`)."""
    # paplay's default (large) buffer: a low-latency player underruns on a loaded machine, and the
    # tests read the caller's onset on the microphone's tap anyway, not from when paplay started
    proc = subprocess.Popen(["paplay", f"--device={sink}", str(wav)], env=env)
    if wait:
        proc.wait(timeout=120)
    return proc


class MonitorTap:
    """Records a source (a sink's monitor) in a thread; blocks carry their arrival time."""

    resolution = 0.03  # s: error of the t0 anchor (one scheduling delay) plus a block

    def __init__(self, env: dict[str, str], source: str) -> None:
        self.env, self.source = env, source
        self._levels: list[float] = []  # dBFS per 10 ms block, in stream order
        self._t0 = float("inf")  # monotonic time of the stream's first sample (see module doc)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> MonitorTap:
        self._proc = subprocess.Popen(
            ["parec", f"--device={self.source}", "--raw", "--format=s16le", f"--rate={RATE}",
             "--channels=1", "--latency-msec=10"], env=self.env, stdout=subprocess.PIPE)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc:
            self._proc.terminate()
            self._proc.wait(timeout=10)
        if self._thread:
            self._thread.join(timeout=5)

    def _read(self) -> None:
        assert self._proc and self._proc.stdout
        while len(chunk := self._proc.stdout.read(BLOCK * 2)) == BLOCK * 2:
            now = time.monotonic()
            x = np.frombuffer(chunk, dtype="<i2").astype(np.float64) / 32768.0
            with self._lock:
                self._levels.append(float(10 * np.log10(np.mean(x**2) + 1e-12)))
                self._t0 = min(self._t0, now - len(self._levels) * BLOCK / RATE)

    def blocks(self) -> list[tuple[float, float]]:
        """(start time, level dBFS) of every 10 ms block so far."""
        with self._lock:
            return [(self._t0 + k * BLOCK / RATE, level) for k, level in enumerate(self._levels)]

    def block_of(self, t: float) -> int:
        """The position of the block that starts at `t` (a time read from `blocks`)."""
        with self._lock:
            return round((t - self._t0) * RATE / BLOCK)

    def time_of(self, block: int) -> float:
        """When block number `block` started, on the current anchor."""
        with self._lock:
            return self._t0 + block * BLOCK / RATE

    def first_sound_after(self, t: float, threshold_dbfs: float = -45.0) -> float | None:
        """Start time of the first 10 ms block louder than the threshold at or after `t`."""
        return next((at for at, level in self.blocks() if at >= t and level > threshold_dbfs), None)

    def silence_after(self, t: float, threshold_dbfs: float = -45.0, hold_ms: int = 300) -> float | None:
        """Start of the first stretch of `hold_ms` below the threshold at or after `t` (when the
        bot's audio stopped), or None if the monitor never went quiet for that long."""
        start, need = None, hold_ms // 10
        run = 0
        for at, level in self.blocks():
            if at < t:
                continue
            if level <= threshold_dbfs:
                start = at if run == 0 else start
                run += 1
                if run >= need:
                    return start
            else:
                run = 0
        return None

    def silence_through(self, t: float, until: float, threshold_dbfs: float = -45.0, hold_ms: int = 300) -> float | None:
        """Start of the first stretch below the threshold at or after `t` that lasts at least
        `hold_ms` and at least until `until`, or None."""
        start = None
        for at, level in self.blocks():
            if at < t:
                continue
            if level > threshold_dbfs:
                start = None
                continue
            start = at if start is None else start
            if at + 0.01 >= max(start + hold_ms / 1000, until):
                return start
        return None

    def onset_after(self, t: float, below_peak_db: float = 35.0, span_s: float = 3.0) -> float | None:
        """Start of the first 10 ms block at or after `t` within `below_peak_db` of the loudest
        block of the next `span_s` (where a sound starts, as scripts/eval_bargein.py defines a
        caller's onset), or None if nothing sounded."""
        blocks = [(at, level) for at, level in self.blocks() if at >= t]
        first = next((at for at, level in blocks if level > -60.0), None)
        if first is None:
            return None
        peak = max(level for at, level in blocks if at < first + span_s)
        return next(at for at, level in blocks if level >= peak - below_peak_db)

    def sounding_for(self, since: float, threshold_dbfs: float = -45.0) -> float:
        """Seconds of sound heard since `since` (to wait until a prompt has played a while)."""
        return 0.01 * sum(1 for at, level in self.blocks() if at >= since and level > threshold_dbfs)


def wait_until(predicate, timeout: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


class RigOffset:
    """Where one click played into both sinks lies on each tap, as block positions; `seconds`
    reads them with each tap's current clock anchor. A tap's anchor only moves earlier as blocks
    arrive with less delay, and both taps' anchors go on moving after the click was heard (on a
    loaded machine by several ms): an offset fixed in seconds at that moment would go stale."""

    def __init__(self, mic: MonitorTap, mic_block: int, bot: MonitorTap, bot_block: int) -> None:
        self._mic, self._mic_block, self._bot, self._bot_block = mic, mic_block, bot, bot_block
        self.measured = self.seconds  # as read when the click was heard

    @property
    def seconds(self) -> float:
        """The `bot` tap's reading minus the `mic` tap's, for one sound."""
        return self._bot.time_of(self._bot_block) - self._mic.time_of(self._mic_block)


def tap_offset(env: dict[str, str], tmp_path: Path, mic: MonitorTap, bot: MonitorTap) -> RigOffset:
    """The rig's own error between two taps: one click played into both sinks at once (a combine
    sink over `caller` and `bot`, nothing else in between) is heard at `bot` this many seconds
    after `mic` (about 0, within a block). A measurement on the two taps subtracts it."""
    from voicebot.audio.types import Audio
    from voicebot.audio.wavio import write_wav

    module = subprocess.run(["pactl", "load-module", "module-combine-sink", "sink_name=rig_both",
                             "slaves=caller,bot", *SINK_FORMAT.split()],
                            env=env, check=True, capture_output=True, text=True).stdout.strip()
    try:
        t = np.arange(RATE // 20) / RATE
        click = np.concatenate([np.zeros(RATE // 4), 0.5 * np.sin(2 * np.pi * 1000 * t), np.zeros(RATE // 4)])
        wav = tmp_path / "rig_click.wav"
        write_wav(wav, Audio.from_float(click, RATE))
        started = time.monotonic()
        play_into(env, "rig_both", wav, wait=True)
        assert wait_until(lambda: mic.first_sound_after(started, -30) and bot.first_sound_after(started, -30), 5), \
            "the rig's click never reached both monitors"
        return RigOffset(mic, mic.block_of(mic.first_sound_after(started, -30)),
                         bot, bot.block_of(bot.first_sound_after(started, -30)))
    finally:
        subprocess.run(["pactl", "unload-module", module], env=env, check=False)
