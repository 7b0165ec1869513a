"""DTMF that arrives in SIP INFO (the fallback when a peer does not send RFC 4733 events):
`application/dtmf-relay` ("Signal=5\r\nDuration=160") and `application/dtmf` ("5")."""

from __future__ import annotations

import re

KEYS = set("0123456789*#ABCD")
_SIGNAL = re.compile(r"^\s*signal\s*=\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)


def info_digit(content_type: str | None, body: str) -> str | None:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/dtmf-relay":
        match = _SIGNAL.search(body)
        key = match.group(1) if match else ""
    elif kind == "application/dtmf":
        key = body.strip()
    else:
        return None
    key = {"10": "*", "11": "#"}.get(key, key).upper()
    return key if key in KEYS else None


class DigitCollector:
    """Phones send one key at a time; the flow wants an answer. At a digits prompt keys are
    gathered until its length, `#`, or a pause; at any other prompt each key is the answer."""

    INTER_DIGIT_S = 3.0

    def __init__(self) -> None:
        self._keys = ""
        self._last = 0.0

    def key(self, key: str, now: float, expect_kind: str, length: int | None) -> str | None:
        if expect_kind != "digits":
            self._keys = ""
            return key
        if key == "#":
            done, self._keys = self._keys, ""
            return done or None
        self._keys, self._last = self._keys + key, now
        if length and len(self._keys) >= length:
            done, self._keys = self._keys, ""
            return done
        return None

    def timeout(self, now: float) -> str | None:
        """Keys left waiting after a pause (a digits prompt without a fixed length)."""
        if self._keys and now - self._last >= self.INTER_DIGIT_S:
            done, self._keys = self._keys, ""
            return done
        return None
