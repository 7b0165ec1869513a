"""Shared by the web tests: a demo store with users, the app on a pinned clock (the day the test
calls happen, in business hours), and logging in the way a browser does (CSRF token from the form)."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from tempfile import mkdtemp

from fastapi.testclient import TestClient

from flow_support import BANK, OPEN, fresh_store
from voicebot.flow import load_flow
from voicebot.store import AgentState, open_store
from voicebot.web.app import create_app
from voicebot.web.settings import WebSettings

PASSWORD = "correct horse battery"
CLOCK = OPEN + timedelta(minutes=30)  # the app's "now": same day, shortly after the calls


@lru_cache(maxsize=1)
def _template() -> Path:
    """Demo customers and users, hashed once (argon2 is slow on purpose), copied for each test."""
    folder = Path(mkdtemp(prefix="voicebot-web-"))
    store = fresh_store(folder)
    store.add_user("sup", "supervisor", PASSWORD)
    for name in ("maria", "dev", "li"):
        store.add_user(name, "agent", PASSWORD)
    store.engine.dispose()
    return folder / "voicebot.db"


def web_store(tmp_path):
    """A demo store with users sup (supervisor), maria, dev and li (agents)."""
    shutil.copy(_template(), tmp_path / "voicebot.db")
    return open_store(str(tmp_path / "voicebot.db"))


def all_general_agents_busy(store, now=OPEN):
    """Every general agent on a call, so a caller who wants a person waits in the queue."""
    for name in ("maria", "dev", "li"):
        store.set_agent_state(name, AgentState("busy", now - timedelta(minutes=1), now + timedelta(hours=2)))


def web_settings(store, tmp_path, clock=CLOCK):
    return WebSettings(store=store, flow=load_flow(BANK), secret="test-secret-" + "x" * 40,
                       recordings=(tmp_path / "calls", tmp_path / "voicemail"), clock=lambda: clock,
                       tick_seconds=0.2)


def client(cfg) -> TestClient:
    return TestClient(create_app(cfg))


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(c: TestClient, name: str, password: str = PASSWORD):
    token = csrf_of(c.get("/login").text)
    return c.post("/login", data={"name": name, "password": password, "csrf": token, "next": "/"},
                  follow_redirects=False)


def logged_in(cfg, name: str) -> tuple[TestClient, str]:
    c = client(cfg)
    assert login(c, name).status_code == 303
    return c, c.get("/api/me").json()["csrf"]
