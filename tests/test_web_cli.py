"""`voicebot users` and `voicebot serve --http` as a user runs them (the console script)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
VOICEBOT = [sys.executable, "-m", "voicebot"]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*VOICEBOT, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_users_add_list_remove(tmp_path):
    db = str(tmp_path / "u.db")
    assert run("users", "add", "maria", "--role", "agent", "--password-stdin", "--db", db,
               stdin="a long password\n").returncode == 0
    listed = json.loads(run("users", "list", "--json", "--db", db).stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("maria", "agent")]
    stored = subprocess.run(["sqlite3", db, "SELECT password_hash FROM users"], capture_output=True, text=True).stdout
    assert stored.startswith("$argon2id$") and "a long password" not in stored
    bad = run("users", "add", "x", "--role", "boss", "--password-stdin", "--db", db, stdin="a long password\n")
    assert bad.returncode == 2 and "role must be one of agent, supervisor" in bad.stderr
    short = run("users", "add", "x", "--password-stdin", "--db", db, stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    assert run("users", "remove", "maria", "--db", db).returncode == 0
    gone = run("users", "remove", "maria", "--db", db)
    assert gone.returncode == 2 and "no user 'maria'" in gone.stderr


def test_serve_http(tmp_path):
    bad = run("serve", "--http", "localhost", "--db", str(tmp_path / "s.db"))
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([*VOICEBOT, "serve", "--http", f"127.0.0.1:{port}", "--db", str(tmp_path / "s.db")],
                              cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},  # this tree's voicebot
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/wallboard", timeout=2, follow_redirects=True)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read()
                time.sleep(0.1)
        assert page.status_code == 200 and "/login" in str(page.url)  # redirected there
        assert httpx.get(f"http://127.0.0.1:{port}/api/wallboard").status_code == 401
        assert (tmp_path / "var" / "web.secret").stat().st_mode & 0o077 == 0  # the key is private
    finally:
        server.terminate()
        server.wait(timeout=30)
