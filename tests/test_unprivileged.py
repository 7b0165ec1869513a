"""File permissions as an ordinary user sees them. CI runs as root, for whom every file is readable
and every folder writable, so these commands run as `nobody` (setpriv, else runuser): an unreadable
WAV or flow, an output path in a folder they cannot write, a database folder they cannot write —
each one line naming the path and the problem, exit code 2, no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534


def _switch() -> list[str] | None:
    if shutil.which("setpriv"):
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    return None


@lru_cache(maxsize=1)
def _runner() -> tuple[list[str], dict[str, str]] | str:
    """The command prefix and environment that run voicebot as an unprivileged user, or why not.
    The venv's interpreter may live where nobody can reach it (pyenv under /root): then the
    system's Python of the same version runs it, with the venv's packages on its path."""
    if os.geteuid() != 0:
        return [sys.executable], {"PYTHONPATH": str(ROOT)}  # permissions apply already
    switch = _switch()
    if switch is None:
        return "neither setpriv nor runuser is installed"
    packages = sysconfig.get_paths()["purelib"]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for python, path in ((sys.executable, str(ROOT)), (f"/usr/bin/python{version}", f"{ROOT}:{packages}")):
        env = {"PYTHONPATH": path}
        probe = subprocess.run([*switch, python, "-c", "import voicebot.cli"], capture_output=True,
                               env={**os.environ, **env}, cwd="/tmp", timeout=120)
        if probe.returncode == 0:
            return [*switch, python], env
    return f"no Python {version} that user {NOBODY} may run imports voicebot (the venv's is out of reach)"


@pytest.fixture
def nobody():
    """Run `voicebot ARGS` as nobody in a fresh folder: `ro/` (root's, not writable by them),
    `rw/` (writable), `secret.wav` and `secret.yml` (root's, mode 0600)."""
    runner = _runner()
    if isinstance(runner, str):
        pytest.skip(f"cannot run a command as an unprivileged user: {runner}")
    prefix, env = runner
    here = Path(tempfile.mkdtemp(prefix="voicebot-perm-"))  # pytest's tmp dirs are root-only
    here.chmod(0o755)
    (here / "ro").mkdir(mode=0o755)
    (here / "rw").mkdir()
    (here / "rw").chmod(0o777)
    shutil.copy(ROOT / "audio" / "demo" / "01.wav", here / "secret.wav")
    shutil.copy(ROOT / "flows" / "bank.yml", here / "secret.yml")
    for name in ("secret.wav", "secret.yml"):
        (here / name).chmod(0o600)

    def run(*args: str, succeeds: bool = False) -> str:
        res = subprocess.run([*prefix, "-m", "voicebot", *args], capture_output=True, text=True, cwd=here,
                             env={**os.environ, **env, "HOME": str(here / "rw")}, timeout=300)
        if succeeds:
            assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
            return res.stdout
        assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
        assert "Traceback" not in res.stderr, res.stderr
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
        assert not any((here / "ro").iterdir())  # nothing written
        return lines[0]

    run.folder = here
    yield run
    shutil.rmtree(here, ignore_errors=True)


@pytest.mark.parametrize("command", [["transcribe", "secret.wav"], ["replay", "secret.wav", "--tts", "none"]])
def test_an_unreadable_wav(nobody, command):
    line = nobody(*command, *(["--db", "rw/v.db"] if command[0] == "replay" else []))
    assert "secret.wav" in line and ("not readable" in line or "Permission denied" in line)


def test_an_unreadable_flow(nobody):
    line = nobody("replay", "--text", "hi", "--tts", "none", "--flow", "secret.yml", "--db", "rw/v.db")
    assert "--flow" in line and "secret.yml" in line and "not readable" in line


@pytest.mark.parametrize("command, option", [
    (["replay", "--text", "hi", "--tts", "none", "--db", "rw/v.db", "--json", "ro/call.json"], "--json ro/call.json"),
    (["replay", "--text", "hi", "--tts", "none", "--db", "rw/v.db", "--audio-out", "ro/calls"], "--audio-out ro/calls"),
    (["train", "--out", "ro/model"], "--out ro/model"),
])
def test_an_output_in_a_folder_they_cannot_write(nobody, command, option):
    assert f"{option}: cannot write in ro (permission denied)" in nobody(*command)


@pytest.mark.parametrize("command", [["db", "init"], ["replay", "--text", "hi", "--tts", "none"],
                                     ["agents", "list"]])
def test_a_database_folder_they_cannot_write(nobody, command):
    line = nobody(*command, "--db", "ro/voicebot.db")
    assert line == "error: database ro/voicebot.db: cannot write in its folder ro (permission denied)"


def test_a_database_another_user_made_is_migrated_by_them(nobody):
    """The migration lock file beside the database is the other user's (read-only to them): flock
    needs no write access. It had been a PermissionError traceback."""
    from alembic import command
    from sqlalchemy import create_engine

    from voicebot.store.schema import alembic_config

    db = nobody.folder / "rw" / "old.db"
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), "0004")
        conn.commit()
    engine.dispose()
    (nobody.folder / "rw" / "old.db.migrate.lock").touch(mode=0o644)
    db.chmod(0o666)
    assert "schema at revision 0005" in nobody("db", "upgrade", "--db", "rw/old.db", succeeds=True)
