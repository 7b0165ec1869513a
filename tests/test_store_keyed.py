"""Customer numbers are hashed under a per-install secret key (HMAC-SHA256), not a fixed salt: the
PIN lockout's table cannot be reversed by trying all 10^8 numbers without the key file."""

from __future__ import annotations

import hashlib
import stat
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from voicebot.errors import ConfigError
from voicebot.store import open_store
from voicebot.store.keyed import ENV, install_key, key_file, keyed_hash
from voicebot.store.lockout import MemoryLockout, SqlLockout

NUMBER = "12345678"
AT = datetime(2026, 11, 18, 17, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def no_configured_key(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)


def install(tmp_path, name):
    (tmp_path / name).mkdir()
    return open_store(f"sqlite:///{tmp_path / name / 'voicebot.db'}")


def test_two_installs_have_different_keys_kept_private(tmp_path):
    one, two = install(tmp_path, "one"), install(tmp_path, "two")
    a, b = SqlLockout(one.engine), SqlLockout(two.engine)
    assert a.customer_key(NUMBER) != b.customer_key(NUMBER)
    path = key_file(one.engine)
    assert path == tmp_path / "one" / "voicebot.db.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_bytes()) == 32
    # The stored value is the HMAC under that key, and none of the guessable unkeyed hashes.
    assert a.customer_key(NUMBER) == keyed_hash(path.read_bytes(), NUMBER)
    guessable = {hashlib.sha256(NUMBER.encode()).hexdigest(),
                 hashlib.sha256(b"voicebot-pin-lockout:" + NUMBER.encode()).hexdigest()}
    assert a.customer_key(NUMBER) not in guessable


def test_lockout_counts_across_calls_and_restarts_of_one_install(tmp_path):
    store = install(tmp_path, "one")
    first = SqlLockout(store.engine)
    first.record_failure(NUMBER, AT)
    first.record_failure(NUMBER, AT + timedelta(minutes=1))
    again = SqlLockout(open_store(f"sqlite:///{tmp_path / 'one' / 'voicebot.db'}").engine)  # a restart
    assert again.failures_since(NUMBER, AT) == 2
    assert again.failures_since(NUMBER, AT + timedelta(seconds=30)) == 1
    assert again.failures_since("87654321", AT) == 0
    again.clear(NUMBER)
    assert first.failures_since(NUMBER, AT) == 0
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pin_failures")).scalar() == 0


def test_table_holds_only_the_keyed_hash(tmp_path):
    store = install(tmp_path, "one")
    lockout = SqlLockout(store.engine)
    lockout.record_failure(NUMBER, AT)
    with store.engine.connect() as conn:
        keys = [r[0] for r in conn.execute(text("SELECT customer_key FROM pin_failures"))]
    assert keys == [keyed_hash(key_file(store.engine).read_bytes(), NUMBER)]


def test_workers_starting_together_agree_on_one_key(tmp_path):
    path = tmp_path / "fresh.db.key"
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(install_key(path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and keys[0] == path.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["fresh.db.key"]  # no temp files left


def test_configured_key_wins_and_is_shared(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, "a shared secret of the whole cluster")
    one, two = install(tmp_path, "one"), install(tmp_path, "two")
    assert SqlLockout(one.engine).customer_key(NUMBER) == SqlLockout(two.engine).customer_key(NUMBER)
    assert not key_file(one.engine).exists()  # nothing written when the key is configured
    monkeypatch.setenv(ENV, "short")
    with pytest.raises(ConfigError, match=ENV):
        SqlLockout(one.engine)


def test_in_memory_stores_use_a_process_key():
    memory = open_store("sqlite://")
    assert key_file(memory.engine) is None
    lockout = MemoryLockout()
    lockout.record_failure(NUMBER, AT)
    assert lockout.failures_since(NUMBER, AT) == 1
    assert NUMBER not in repr(lockout._at) and lockout.customer_key(NUMBER) != NUMBER
