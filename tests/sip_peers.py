"""Real SIP peers for the SIP tests: a worker (SipServer on its own event loop thread, sharing
one Stack), headless baresip as caller or agent (config recipe from issue 10), free UDP ports."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

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
        self.sip_port, self.ctrl_port = free_port(), free_tcp_port()
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
        self.log = self.home / "baresip.log"
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log.open("wb"),
                                     stderr=subprocess.STDOUT, cwd=self.home)
        self._wait_ctrl()

    @property
    def uri(self) -> str:
        return f"sip:{self.home.name}@127.0.0.1:{self.sip_port}"

    def _wait_ctrl(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
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
