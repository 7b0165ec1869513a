"""An operator's mistakes on the command line: a database URL with a typo, a server that is down,
a path that is a folder or not there, an output path that cannot be written, a bad environment
value, a port already taken. Each is one line naming what is wrong and where, exit code 2, no
traceback, nothing left half-written (test_bad_input.py covers broken WAVs and flows)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def voicebot(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
             ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicebot", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def one_error_line(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


# ---- databases ------------------------------------------------------------------------------
@pytest.mark.parametrize("url, says", [
    ("garbage://x", "unknown kind 'garbage'"),
    ("postgresql+psycopg://clerk:s3cret@127.0.0.1:1/voicebot", "Connection refused"),
    ("sqlite:////nonexistent-dir/x.db", "unable to open database file"),
])
def test_a_database_that_cannot_be_opened_is_named_without_its_password(tmp_path, url, says):
    for command in (["report"], ["db", "upgrade"], ["agents", "list"]):
        line = one_error_line(voicebot(*command, "--db", url, cwd=tmp_path))
        assert "database " in line and says in line, line
        assert "s3cret" not in line
    assert list(tmp_path.iterdir()) == []


def test_a_folder_or_a_file_that_is_no_database(tmp_path):
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    assert "is a directory" in one_error_line(voicebot("report", "--db", str(tmp_path), cwd=tmp_path))
    line = one_error_line(voicebot("report", "--db", str(tmp_path / "notes.txt"), cwd=tmp_path))
    assert "notes.txt" in line and "not a database" in line
    line = one_error_line(voicebot("db", "init", "--db", str(tmp_path / "notes.txt" / "x.db"), cwd=tmp_path))
    assert "notes.txt" in line and "a file is in the way" in line


def test_report_on_a_mistyped_path_says_so_instead_of_reporting_zero_calls(tmp_path):
    line = one_error_line(voicebot("report", "--db", str(tmp_path / "typo" / "voicebot.db"), cwd=tmp_path))
    assert "typo/voicebot.db: no such file" in line
    assert list(tmp_path.iterdir()) == []  # neither the folder nor an empty database was made


def test_db_init_never_prints_the_password(tmp_path):
    from voicebot.store import shown_url

    assert shown_url("postgresql+psycopg://clerk:s3cret@db.example/voicebot") == \
        "postgresql+psycopg://clerk:***@db.example/voicebot"
