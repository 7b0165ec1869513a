"""One keyed hash for customer numbers wherever voicebot must recognise a number without keeping it
(the PIN lockout's per-customer counts): HMAC-SHA256 under a secret key of this install. A plain
or fixed-salt hash of an 8-digit number is reversed by trying all 10^8 numbers; without the key
the stored value says nothing.

The key is `$VOICEBOT_CUSTOMER_KEY` when set (workers on several hosts sharing one PostgreSQL must
all be given the same value), else 32 random bytes made once and kept with mode 0600 beside the
SQLite database (`<db file>.key`, 32 raw bytes) or, for a server database, in `var/customer.key`. The key is
never logged or printed. (PINs are not hashed here: the store keeps them as salted scrypt hashes,
voicebot.store.pins.)"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from voicebot.errors import ConfigError
from voicebot.keyfile import keep_secret

ENV = "VOICEBOT_CUSTOMER_KEY"
KEY_BYTES = 32
SERVER_KEY_FILE = Path("var") / "customer.key"
_PROCESS_KEY = secrets.token_bytes(KEY_BYTES)  # for in-memory databases, which die with the process


def keyed_hash(key: bytes, value: str) -> str:
    """64 hex characters: HMAC-SHA256 of `value` under `key`."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def key_file(engine: object) -> Path | None:
    """Where the key of the database behind `engine` lives; None for an in-memory database."""
    url = getattr(engine, "url", None)
    if url is None:
        return None
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or "mode=memory" in str(url):
            return None
        db = Path(database)
        return db.with_name(db.name + ".key")
    return SERVER_KEY_FILE


def install_key(path: Path | None) -> bytes:
    """$VOICEBOT_CUSTOMER_KEY, else the key kept in `path` (made on first use), else (no path: an
    in-memory database, gone with the process) a random key for this process."""
    configured = os.environ.get(ENV)
    if configured:
        if len(configured) < 16:
            raise ConfigError(f"${ENV}: at least 16 characters (32 random bytes as hex recommended)")
        return configured.encode()
    return _PROCESS_KEY if path is None else _read_or_create(path)


def _read_or_create(path: Path) -> bytes:
    key = keep_secret(path, lambda: secrets.token_bytes(KEY_BYTES))  # raw bytes: no digit text to mistake for data
    if len(key) < 16:
        raise ConfigError(f"{path}: customer key too short ({len(key)} bytes)")
    return key
