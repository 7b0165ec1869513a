"""Searching what the project wrote for a PIN or customer number without tripping on chance:
call IDs, salts and digests are random hex, and 32 random hex digits spell a given four-digit
PIN about once in 2,000 runs (CI failed once on a salt in an SQL dump reading ...C2468660...)."""

from __future__ import annotations

import re

# A run of 8+ hex digits holding at least one letter is an ID or digest, never a number a caller
# said; a plain-digit run (a leaked customer number) is kept and still found.
_RANDOM_HEX = re.compile(r"(?i)\b(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b|X'[0-9a-f]*'")


def without_random_hex(text: str) -> str:
    """`text` with IDs, salts and digests (and SQLite X'..' blobs) blanked out."""
    return _RANDOM_HEX.sub("<hex>", text)
