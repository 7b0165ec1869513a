"""Sessions, roles, CSRF and login throttling.

The session is Starlette's signed cookie (HttpOnly, SameSite=strict, Secure behind TLS) holding
the user name, role and a CSRF token. Every page needs a session (else a redirect to /login) and
every API call too (else 401); supervisor pages answer 403 to agents. Every POST carries the CSRF
token (form field `csrf` or header X-CSRF-Token). Five wrong passwords for one name or address
within five minutes lock that name out for five minutes (twenty from one address lock the address)."""

from __future__ import annotations

import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import HTTPException, Request

MAX_FAILURES = 5  # per name
MAX_FAILURES_PER_ADDRESS = 20  # an office behind one address has many agents
WINDOW_SECONDS = 300.0


@dataclass(frozen=True)
class User:
    name: str
    role: str  # agent | supervisor

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class Throttle:
    def __init__(self, max_failures: int = MAX_FAILURES, per_address: int = MAX_FAILURES_PER_ADDRESS,
                 window: float = WINDOW_SECONDS) -> None:
        self.max_failures, self.per_address, self.window = max_failures, per_address, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] < now - self.window:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        return any(len(self._recent(k, now)) >= self._limit(k) for k in keys)

    def _limit(self, key: str) -> int:
        return self.per_address if key.startswith("addr:") else self.max_failures

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._recent(key, now).append(now)

    def succeeded(self, name_key: str) -> None:
        self._failures.pop(name_key, None)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    """For every state-changing request: the token from the form or header must match the session's."""
    if request.url.path.startswith(("/api", "/live")) and not request.session.get("user"):
        raise HTTPException(401, "log in first")  # refuse before saying anything about tokens
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = (await request.form()).get("csrf")
    if not expected or not sent or not secrets.compare_digest(str(sent), expected):
        raise HTTPException(403, "CSRF token missing or wrong")


def _session_user(request: Request) -> User | None:
    data = request.session.get("user")
    return User(data["name"], data["role"]) if data else None


def page_user(request: Request) -> User:
    user = _session_user(request)
    if user is None:
        raise LoginRequired(quote(request.url.path))
    return user


def page_supervisor(request: Request) -> User:
    return _supervisor_only(page_user(request))


def api_user(request: Request) -> User:
    user = _session_user(request)
    if user is None:
        raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Session"})
    return user


def api_supervisor(request: Request) -> User:
    return _supervisor_only(api_user(request))


def _supervisor_only(user: User) -> User:
    if not user.supervisor:
        raise HTTPException(403, "supervisors only")
    return user


def log_in(request: Request, name: str, role: str) -> None:
    """A fresh session (no fixation): the old contents are dropped, a new CSRF token made."""
    request.session.clear()
    request.session["user"] = {"name": name, "role": role}
    request.session["csrf"] = secrets.token_urlsafe(32)
