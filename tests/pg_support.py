"""A private PostgreSQL cluster for a test module: initdb in a temp dir, a Unix socket only, torn
down afterwards. Use as `pg_url = pytest.fixture(scope="module")(private_cluster)`."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from itertools import count
from pathlib import Path

PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), None)
_PORTS = count(54329)


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; CI runs as root."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def private_cluster():
    assert PG_BIN, "PostgreSQL server binaries not installed (scripts/setup.sh installs postgresql)"
    root = Path(tempfile.mkdtemp(prefix="voicebot-pg-"))  # not under pytest's root-only tmp dirs
    data, sock, port = root / "data", root / "sock", next(_PORTS)
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    subprocess.run(_as_postgres([f"{PG_BIN}/initdb", "-D", str(data), "-U", user, "-A", "trust"]),
                   check=True, capture_output=True)
    _start(root, port)
    subprocess.run(_as_postgres([f"{PG_BIN}/createdb", "-h", str(sock), "-p", str(port), "-U", user, "voicebot"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://{user}@/voicebot?host={sock}&port={port}"
    finally:
        subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _start(root: Path, port: int) -> None:
    subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(root / "data"), "-w", "-l", str(root / "log"),
                                 "-o", f"-k {root / 'sock'} -c listen_addresses='' -p {port}", "start"]),
                   check=True, capture_output=True)


def _where(url: str) -> tuple[Path, int]:
    """The cluster's folder and port, from a URL private_cluster made."""
    from sqlalchemy.engine import make_url

    query = make_url(url).query
    return Path(query["host"]).parent, int(query["port"])


def stop_cluster(url: str) -> None:
    """The server goes away (fast shutdown: open connections are cut), as a crashed or restarted
    database server does mid-call."""
    root, _ = _where(url)
    subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(root / "data"), "-m", "fast", "-w", "stop"]),
                   check=True, capture_output=True)


def start_cluster(url: str) -> None:
    _start(*_where(url))


def fresh_database(url: str, name: str) -> str:
    """Another empty database on the same cluster (each test its own schema from scratch)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.replace("@/voicebot?", f"@/{name}?")


def backend_url(request, tmp_path, prefix: str) -> str:
    """For a fixture parametrized ["sqlite", "postgresql"]: a fresh SQLite file, or a fresh
    database on the module's `pg_cluster` fixture, named after the test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    name = f"{prefix}{os.getpid()}_{request.node.name[:24]}".lower()
    return fresh_database(request.getfixturevalue("pg_cluster"), name.replace("[", "_").replace("]", "").replace("-", "_"))
