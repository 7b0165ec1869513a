"""Who is calling: the network-asserted identity (P-Asserted-Identity) when a trusted proxy sent
one, else the From header. A number is reduced to digits with an optional leading +."""

from __future__ import annotations

import re

from aiosipua import parse_address

from voicebot.store.protocols import CALLER_ID_LENGTH

_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


def caller_id(request) -> str | None:
    for header in ("p-asserted-identity", "from"):
        value = request.get_header(header)
        if not value:
            continue
        for part in value.split(","):  # PAI may carry a sip: and a tel: identity
            user = _user(part.strip())
            if user:
                return user
    return None


_TEL = re.compile(r"^(?:[^<]*<)?tel:([^;>]+)", re.IGNORECASE)  # aiosipua parses sip:/sips: only


def _user(value: str) -> str | None:
    tel = _TEL.match(value)
    if tel:
        user = tel.group(1)
    else:
        try:
            uri = parse_address(value).uri
        except Exception:  # an unparsable identity identifies nobody
            return None
        user = (uri.user or "").split(";")[0] if uri.scheme in ("sip", "sips") else ""
    digits = re.sub(r"[\s().-]", "", user)
    if _NUMBER.match(digits):
        return digits
    return user[:CALLER_ID_LENGTH] or None  # a SIP user name: cut to what the record holds
