"""Web users (agents and supervisors) with argon2id password hashes (salted, deliberately slow)."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from voicebot.errors import VoicebotError
from voicebot.store.models import UserRow
from voicebot.store.protocols import AGENT_NAME_LENGTH

ROLES = ("agent", "supervisor")
_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified for unknown names so they cost the same time as known ones; made on first login,
    not at import (argon2 is deliberately slow and every process imports the store)."""
    return _HASHER.hash("not a password")


class UserMixin:
    def add_user(self, name: str, role: str, password: str) -> None:
        if not name.strip() or len(name) > AGENT_NAME_LENGTH:  # an agent's login is their roster name
            raise VoicebotError(f"user name: 1 to {AGENT_NAME_LENGTH} characters, not {len(name)}")
        if role not in ROLES:
            raise VoicebotError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if len(password) < 8:
            raise VoicebotError("password: at least 8 characters")
        with self._session() as s:
            s.merge(UserRow(name=name, role=role, password_hash=_HASHER.hash(password),
                            created_at=datetime.now(timezone.utc)))
            s.commit()

    def users(self) -> list[dict[str, str]]:
        with self._session() as s:
            return [{"name": u.name, "role": u.role, "created_at": u.created_at.isoformat()}
                    for u in s.scalars(select(UserRow).order_by(UserRow.name))]

    def remove_user(self, name: str) -> bool:
        with self._session() as s:
            done = s.execute(delete(UserRow).where(UserRow.name == name))
            s.commit()
            return done.rowcount == 1

    def authenticate_user(self, name: str, password: str) -> str | None:
        """The user's role when the password is right, else None."""
        with self._session() as s:
            row = s.get(UserRow, name)
        try:
            _HASHER.verify(row.password_hash if row else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        return row.role if row else None
