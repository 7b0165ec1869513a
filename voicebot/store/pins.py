"""PIN hashing: scrypt with a per-customer salt; comparison in constant time."""

from __future__ import annotations

import hashlib
import hmac
import os

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def new_salt() -> bytes:
    return os.urandom(16)


def hash_pin(pin: str, salt: bytes) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, **_SCRYPT)


def pin_matches(pin: str, salt: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(hash_pin(pin, salt), expected)
