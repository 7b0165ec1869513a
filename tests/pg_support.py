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
    subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(data), "-w", "-l", str(root / "log"),
                                 "-o", f"-k {sock} -c listen_addresses='' -p {port}", "start"]),
                   check=True, capture_output=True)
    subprocess.run(_as_postgres([f"{PG_BIN}/createdb", "-h", str(sock), "-p", str(port), "-U", user, "voicebot"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://{user}@/voicebot?host={sock}&port={port}"
    finally:
        subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


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
