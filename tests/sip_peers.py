"""Real SIP peers for the SIP tests: a worker (SipServer on its own event loop thread, sharing
one Stack), headless baresip as caller or agent (config recipe from issue 10), free UDP ports,
and what a caller heard measured in samples of their recording (never in wall time)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

BARESIP_MODULES = "/usr/lib/baresip/modules"
HAVE_BARESIP = shutil.which("baresip") is not None


def free_port(pair: bool = False) -> int:
    """A free UDP port (an even one with a free neighbour when `pair`, for RTP+RTCP)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not pair:
            return port
        port -= port % 2
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free UDP port")


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Worker:
    """A SipServer running in this process on its own event-loop thread."""

    def __init__(self, server) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(server.start())

    def call(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def port(self) -> int:
        return self.server.transport.local_addr[1]

    def dial(self, home: Path, name: str, wav: Path, seconds: int = 45) -> Baresip:
        """A baresip caller dialling this worker, returned once the call is answered."""
        calls = len(self.server.ended) + len(self.server.calls)
        caller = Baresip(home, name, wav, dial=f"sip:bot@127.0.0.1:{self.port}", seconds=seconds)
        deadline = time.monotonic() + 10
        while len(self.server.ended) + len(self.server.calls) <= calls and time.monotonic() < deadline:
            time.sleep(0.05)
        return caller

    def wait_ended(self, count: int, timeout: float = 60.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.server.ended) >= count and not self.server.transfers and not self.server.waits:
                return list(self.server.ended)
            time.sleep(0.1)
        raise AssertionError(f"only {len(self.server.ended)} of {count} calls ended: {self.server.ended}")

    def close(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Baresip:
    """Headless baresip: `wav` is its microphone (8 kHz mono), what it hears lands in `out`."""

    def __init__(self, home: Path, name: str, wav: Path | None, *, answer: bool = False,
                 dial: str | None = None, seconds: int = 30) -> None:
        self.home, self.out = home / name, home / name / "heard"
        self.out.mkdir(parents=True, exist_ok=True)
        self.log = self.home / "baresip.log"
        # a port found free can be taken before baresip binds it (its TCP and TLS transports bind
        # the SIP port too, and free_port() checks UDP): then it starts again on other ports
        for attempt in range(3):
            self.sip_port, self.ctrl_port = free_port(), free_tcp_port()
            self._start(name, wav, answer, dial, seconds)
            try:
                return self._wait_ctrl()
            except RuntimeError:
                self.proc.kill()
                self.proc.wait()
                if attempt == 2 or "Address already in use" not in self.log.read_text(errors="replace"):
                    raise

    def _start(self, name: str, wav: Path | None, answer: bool, dial: str | None, seconds: int) -> None:
        mode = ";answermode=auto" if answer else ""
        (self.home / "accounts").write_text(f"<sip:{name}@127.0.0.1:{self.sip_port}>;regint=0{mode}\n")
        source = f"aufile,{wav}" if wav else "aubridge,nil"
        (self.home / "config").write_text("\n".join([
            f"module_path {BARESIP_MODULES}", f"sip_listen 127.0.0.1:{self.sip_port}",
            "module g711.so", "module aufile.so", "module sndfile.so", "module aubridge.so",
            "module_app account.so", "module_app menu.so", "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            f"audio_source {source}", "audio_player aubridge,nil", f"snd_path {self.out}",
            "rtp_ports 30000-39998", ""]))
        cmd = ["baresip", "-n", "127.0.0.1", "-f", str(self.home), "-t", str(seconds)]
        if dial:
            cmd += ["-e", f"/dial {dial}"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log.open("wb"),
                                     stderr=subprocess.STDOUT, cwd=self.home)

    @property
    def uri(self) -> str:
        return f"sip:{self.home.name}@127.0.0.1:{self.sip_port}"

    def _wait_ctrl(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:  # an exited baresip never will
            try:
                socket.create_connection(("127.0.0.1", self.ctrl_port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"baresip did not start: {self.log.read_text(errors='replace')[-500:]}")

    def command(self, command: str, params: str = "") -> dict:
        """A menu command over ctrl_tcp (netstring JSON), e.g. sndcode, hangup, dial."""
        body = json.dumps({"command": command, "params": params, "token": "t"}).encode()
        data = b""
        with socket.create_connection(("127.0.0.1", self.ctrl_port), 5) as s:
            s.sendall(str(len(body)).encode() + b":" + body + b",")
            s.settimeout(5)
            while True:  # events arrive on the same connection: read netstrings until the response
                while True:
                    size, sep, rest = data.partition(b":")
                    if sep and len(rest) > int(size):
                        message, data = json.loads(rest[:int(size)]), rest[int(size) + 1:]
                        if message.get("response"):
                            return message
                        continue
                    break
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError(f"baresip closed ctrl_tcp before answering {command}")
                data += chunk

    def keys(self, digits: str, gap_s: float = 0.35) -> None:
        for key in digits:
            self.command("sndcode", key)
            time.sleep(gap_s)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def heard_samples(self) -> int:
        """How much the caller has heard so far (samples in the recording being written): where
        in `heard()` the next thing done happens."""
        files = sorted(self.out.glob("dump-*-dec.wav"))
        if not files:
            return 0
        data = files[0].read_bytes()
        return max(0, (len(data) - _data_offset(data)) // 2)

    def press_when_heard(self, key: str, loud_s: float, timeout: float = 20.0) -> int:
        """Press `key` once `loud_s` of bot speech has arrived since now; returns the sample of
        the recording at which it was pressed."""
        start, deadline = self.heard_samples(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.heard_samples()
            files = sorted(self.out.glob("dump-*-dec.wav"))
            if files and loud_frames(_pcm(files[0].read_bytes())[start:now]) * 0.02 >= loud_s:
                self.command("sndcode", key)
                return now
            time.sleep(0.02)
        raise AssertionError(f"the bot said nothing for {timeout} s: {self.text()[-800:]}")

    def heard(self) -> Path:
        """The decoded audio baresip played (what the caller heard)."""
        files = sorted(self.out.glob("dump-*-dec.wav"))
        assert files, f"baresip recorded nothing: {self.text()[-800:]}"
        return max(files, key=lambda p: p.stat().st_size)


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free UDP ports (a proxy and its workers)."""
    for _ in range(200):
        base = free_port()
        socks = []
        try:
            for offset in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free run of UDP ports")


# ---- what a caller heard, in samples -------------------------------------------------------------
FRAME = 160  # 20 ms at 8 kHz
LOUD = 300.0  # RMS of a frame of speech (silence and comfort noise stay far below)


def _data_offset(wav: bytes) -> int:
    at = wav.find(b"data", 12)
    return at + 8 if at >= 0 else len(wav)


def _pcm(wav: bytes) -> np.ndarray:
    body = wav[_data_offset(wav):]
    return np.frombuffer(body[:len(body) // 2 * 2], np.int16).astype(np.float64)


def _rms(x: np.ndarray) -> np.ndarray:
    frames = x[:len(x) // FRAME * FRAME].reshape(-1, FRAME)
    return np.sqrt((frames ** 2).mean(axis=1)) if len(frames) else np.zeros(0)


def loud_frames(x: np.ndarray) -> int:
    return int((_rms(x) > LOUD).sum())


def prompt_heard_after(heard: np.ndarray, at: int, prompt: np.ndarray) -> tuple[int, float]:
    """How much of `prompt` (8 kHz samples) the caller heard after sample `at` of their
    recording `heard`, in samples; and how well the prompt was found before `at` (correlation).
    The prompt is located by cross-correlation in the 6 s before `at`; from `at` on, 20 ms frames
    are compared with the prompt's continuation, and the answer runs to the end of its last loud
    frame heard before the first loud frame of it that did not arrive."""
    lo = max(0, at - 6 * 8000)
    window = heard[lo:at + len(prompt)]
    corr = np.fft.irfft(np.fft.rfft(window, n := 1 << int(np.ceil(np.log2(len(window) + len(prompt))))) *
                        np.conj(np.fft.rfft(prompt, n)), n)[:len(window)]
    offset = lo + int(np.argmax(corr))  # the recording's sample where the prompt's first sample is
    before = heard[max(offset, at - 8000):at]
    ref = prompt[max(offset, at - 8000) - offset:at - offset]
    found = _similarity(ref, before) if len(before) > FRAME and len(ref) == len(before) else 0.0
    last = at
    for start in range(at, offset + len(prompt) - FRAME + 1, FRAME):
        want = prompt[start - offset:start - offset + FRAME]
        if np.sqrt((want ** 2).mean()) <= LOUD:
            continue  # a pause in the prompt tells nothing
        if max(_similarity(want, heard[start + lag:start + lag + FRAME]) for lag in range(-2, 3)) < 0.6:
            break  # this part of the prompt never reached the caller
        last = start + FRAME
    return last - at, found


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; 0 when either side is flat (silence matches no speech) or cut short."""
    if len(a) != len(b) or a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])
