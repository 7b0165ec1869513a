"""The web console over HTTP (FastAPI TestClient): who may see what, CSRF, throttling, cookies;
an escalated call reaches the agent's queue, exactly one of two agents takes it, the agent sees
its context (never a PIN or customer number) and their verdict moves FCR; callbacks are worked;
/metrics speaks Prometheus."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from flow_support import BANK, OPEN, STRANGER, authenticate, start
from voicebot.flow import load_flow
from voicebot.flow.scripted import said
from voicebot.web.auth import Throttle
from web_support import CLOCK, PASSWORD, all_general_agents_busy, client, csrf_of, logged_in, login, web_settings, web_store
from secret_support import without_random_hex


@pytest.fixture(scope="module")
def flow():
    return load_flow(BANK)


@pytest.fixture
def cfg(tmp_path):
    return web_settings(web_store(tmp_path), tmp_path)


def angry_caller(flow, store, caller=STRANGER, now=OPEN):
    """Authenticates, then is furious: escalated, and (all agents busy) queued for a person."""
    engine = start(flow, store, caller=caller, now=now)
    engine.handle(said("what's my balance", "check_balance"))
    authenticate(engine)
    engine.handle(said("this is a disgrace, I am furious", "out_of_scope", sentiment="negative", score=-0.95))
    return engine


def test_nothing_without_a_session(cfg):
    c = client(cfg)
    for page in ("/", "/wallboard", "/agent", "/calls", "/calls/x", "/settings"):
        r = c.get(page, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    for api in ("/api/wallboard", "/api/agent", "/api/calls", "/api/me", "/live/wallboard", "/live/agent", "/metrics"):
        assert c.get(api).status_code == 401
    assert c.post("/api/agent/take", headers={"X-CSRF-Token": "x"}).status_code == 401
    assert c.post("/agent/take", data={"csrf": "x"}).status_code == 403


def test_agents_cannot_open_supervisor_pages(cfg):
    agent, _ = logged_in(cfg, "maria")
    for path in ("/wallboard", "/settings", "/api/wallboard", "/live/wallboard"):
        assert agent.get(path, follow_redirects=False).status_code == 403
    assert agent.get("/metrics").status_code == 401
    assert agent.get("/agent").status_code == 200 and agent.get("/calls").status_code == 200
    sup, _ = logged_in(cfg, "sup")
    assert sup.get("/wallboard").status_code == 200 and sup.get("/settings").status_code == 200


def test_bad_ids_and_params_get_a_client_error_never_a_500(cfg):
    """A task id longer than the database's integers had been an OverflowError (500)."""
    sup, token = logged_in(cfg, "sup")
    sup_form = csrf_of(sup.get("/calls").text)
    huge = "9" * 25
    for method, url, kwargs in [
            ("post", f"/api/tasks/{huge}/done", {"headers": {"X-CSRF-Token": token}}),
            ("post", f"/agent/tasks/{huge}/done", {"data": {"csrf": sup_form}}),
            ("get", f"/tasks/{huge}/recording", {}), ("get", "/tasks/-1/recording", {}),
            ("get", "/tasks/abc/recording", {}), ("get", "/calls?date=2026-02-30", {}),
            ("get", "/api/calls/no-such-call", {}), ("get", "/calls/x/recording.wav", {}),
            ("post", "/api/calls/nope/resolution", {"headers": {"X-CSRF-Token": token}, "json": {"resolved": "maybe"}}),
            ("post", "/api/agent/status", {"headers": {"X-CSRF-Token": token}, "json": {"status": "lunch"}})]:
        r = getattr(sup, method)(url, follow_redirects=False, **kwargs)
        assert 400 <= r.status_code < 500, (url, r.status_code, r.text)


def test_cookies_csrf_and_no_state_change_on_get(cfg):
    c = client(cfg)
    r = login(c, "maria")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert c.post("/agent/status", data={"status": "offline"}).status_code == 403  # no token
    assert c.post("/agent/status", data={"status": "offline", "csrf": "forged"}).status_code == 403
    assert c.get("/agent/status").status_code == 405 and c.get("/agent/take").status_code == 405
    assert cfg.store.agent_states().get("maria") is None  # nothing changed
    token = csrf_of(c.get("/agent").text)
    assert c.post("/agent/status", data={"status": "offline", "csrf": token}, follow_redirects=False).status_code == 303
    assert cfg.store.agent_states()["maria"].status == "offline"


def test_login_is_throttled(cfg):
    c = client(cfg)
    c.app.state.throttle = Throttle(max_failures=3, per_address=6)  # the defaults are 5 and 20
    assert login(c, "maria", "wrong").status_code == 401
    for _ in range(2):
        login(c, "maria", "wrong")
    assert login(c, "maria").status_code == 429  # even the right password, for a while
    assert login(c, "dev").status_code == 303  # other names are not locked out by it
    other = TestClient(c.app)
    for i in range(3):
        login(other, f"guess{i}", "x")
    assert login(other, "li").status_code == 429  # too many failures from one address: that address waits


def test_escalated_caller_reaches_exactly_one_agent_with_context_and_fcr(flow, cfg):
    store = cfg.store
    all_general_agents_busy(store)
    engine = angry_caller(flow, store)
    assert engine.record.outcome == "escalated" and engine.record.disposition == "queued"
    # the same caller calls again: by the repeat-call rule the first call was not resolved
    again = start(flow, store, caller=STRANGER, now=OPEN + timedelta(minutes=10))
    again.handle(said("branch hours", "branch_hours"))
    again.hangup()

    sup, _ = logged_in(cfg, "sup")
    board = sup.get("/api/wallboard").json()
    general = next(q for q in board["queues"] if q["name"] == "general")
    assert general["waiting"] == 1 and general["longest_wait"] == (CLOCK - OPEN).total_seconds()
    assert board["kpis"]["fcr"] == 0.5 and board["escalations"] == {"negative_sentiment": 1}

    maria, maria_csrf = logged_in(cfg, "maria")
    dev, dev_csrf = logged_in(cfg, "dev")
    assert [e["call_id"] for e in maria.get("/api/agent").json()["waiting"]] == [engine.record.call_id]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda a: a[0].post("/api/agent/take", headers={"X-CSRF-Token": a[1]}),
                                [(maria, maria_csrf), (dev, dev_csrf)]))
    assert sorted(r.status_code for r in answers) == [200, 409]  # one caller, one agent
    winner, loser = (maria, dev) if answers[0].status_code == 200 else (dev, maria)
    assert winner.get("/api/agent").json()["call"]["call_id"] == engine.record.call_id
    assert loser.get("/api/agent").json()["call"] is None

    call = winner.get("/api/agent").json()["call"]
    assert call["customer_name"] == "Alice Moreno" and call["authenticated"] and call["reason"] == "negative_sentiment"
    assert "furious" in call["summary"] or "escalated" in call["summary"].lower()
    assert any("furious" in t["caller"]["text"] for t in call["turns"]) and call["intents"]
    page = winner.get("/agent").text
    assert "disgrace" in page and "Alice Moreno" in page
    for secret in ("12345678", "2468", "customer_id"):  # as a token: not inside an id or a duration
        token = re.compile(rf"(?<![0-9a-f]){secret}(?![0-9a-f])")
        assert not token.search(str(call)) and not token.search(page)

    csrf = maria_csrf if winner is maria else dev_csrf
    r = winner.post(f"/api/calls/{engine.record.call_id}/resolution", json={"resolved": True},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert sup.get("/api/wallboard").json()["kpis"]["fcr"] == 1.0  # the agent's verdict counts
    assert winner.get("/api/agent").json()["call"] is None  # free again
    assert loser.post(f"/api/calls/{again.record.call_id}/resolution", json={"resolved": False},
                      headers={"X-CSRF-Token": maria_csrf if loser is maria else dev_csrf}).status_code == 403


def test_call_history_search_and_call_page(flow, cfg, tmp_path):
    store = cfg.store
    engine = angry_caller(flow, store, caller="+15551230001")
    other = start(flow, store, caller=STRANGER)
    other.handle(said("branch hours", "branch_hours"))
    other.hangup()
    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / f"{engine.record.call_id}.wav").write_bytes(b"RIFF")
    c, _ = logged_in(cfg, "maria")
    html = c.get("/calls", params={"caller": "0001"}).text
    assert engine.record.call_id in html and other.record.call_id not in html
    assert other.record.call_id in c.get("/calls", params={"outcome": "self_service"}).text
    assert engine.record.call_id not in c.get("/calls", params={"date": "2026-11-24"}).text
    assert engine.record.call_id in c.get("/calls", params={"date": "2026-11-23", "queue": "general"}).text
    page = c.get(f"/calls/{engine.record.call_id}").text
    assert "disgrace" in page and f"/calls/{engine.record.call_id}/recording.wav" in page
    assert "12345678" not in page and "2468" not in without_random_hex(page)
    assert c.get(f"/calls/{engine.record.call_id}/recording.wav").content == b"RIFF"
    assert c.get("/calls/nope/recording.wav").status_code == 404
    assert c.get("/calls", params={"date": "tuesday"}).status_code == 400


def test_callbacks_and_voicemail_are_worked_from_the_console(flow, cfg, tmp_path):
    store = cfg.store
    (tmp_path / "voicemail").mkdir()
    wav = tmp_path / "voicemail" / "m.wav"
    wav.write_bytes(b"RIFFvoicemail")
    store.add_task({"kind": "voicemail", "caller_id": STRANGER, "queue": "general", "text": "please call me",
                    "recording": str(wav), "created_at": OPEN})
    store.add_task({"kind": "callback", "caller_id": STRANGER, "queue": "general", "text": "",
                    "recording": "/etc/passwd", "created_at": OPEN})
    c, csrf = logged_in(cfg, "maria")
    tasks = c.get("/api/agent").json()["tasks"]
    assert [t["kind"] for t in tasks] == ["voicemail", "callback"]
    assert c.get(f"/tasks/{tasks[0]['id']}/recording").content == b"RIFFvoicemail"
    assert c.get(f"/tasks/{tasks[1]['id']}/recording").status_code == 404  # only from recording folders
    assert c.post(f"/api/tasks/{tasks[0]['id']}/done", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert c.post(f"/api/tasks/{tasks[0]['id']}/done", headers={"X-CSRF-Token": csrf}).status_code == 409
    assert [t["kind"] for t in c.get("/api/agent").json()["tasks"]] == ["callback"]


def test_vip_waits_ahead_and_metrics(flow, cfg):
    store = cfg.store
    all_general_agents_busy(store)
    first = angry_caller(flow, store)
    vip = angry_caller(flow, store, caller="+15551230002", now=OPEN + timedelta(minutes=1))
    assert vip.record.priority == "vip"
    c, csrf = logged_in(cfg, "li")
    assert [e["call_id"] for e in c.get("/api/agent").json()["waiting"]] == [vip.record.call_id, first.record.call_id]
    assert c.post("/api/agent/take", headers={"X-CSRF-Token": csrf}).json()["call_id"] == vip.record.call_id
    sup, _ = logged_in(cfg, "sup")
    text = sup.get("/metrics").text
    assert 'voicebot_calls{outcome="escalated"} 2.0' in text
    assert 'voicebot_queue_waiting{queue="general"} 1.0' in text
    assert 'voicebot_escalations{reason="negative_sentiment"} 2.0' in text
    assert 'voicebot_agents{status="busy"}' in text and "voicebot_turn_latency_seconds" in text


def test_turn_timer_measures_each_stage_of_a_turn():
    import numpy as np

    from voicebot.audio import Audio
    from voicebot.events import Prompt, SpeechEnded, Spoken, Transcript
    from voicebot.web.metrics import REGISTRY, TurnTimer

    def count(stage):
        return REGISTRY.get_sample_value("voicebot_turn_latency_seconds_count", {"stage": stage}) or 0.0

    def total(stage):
        return REGISTRY.get_sample_value("voicebot_turn_latency_seconds_sum", {"stage": stage}) or 0.0

    before = {s: (count(s), total(s)) for s in ("asr", "nlu", "flow", "tts", "turn")}
    ticks = iter([10.0, 10.4, 10.41, 10.42, 10.9])
    timer = TurnTimer(clock=lambda: next(ticks))
    audio = Audio(np.zeros(160, dtype=np.int16), 8000)
    for event in (SpeechEnded(0.0, 1.0, audio), Transcript("hi", "whisper", 1.0, 0.4), said("hi", "greeting"),
                  Prompt("hello"), Spoken("hello", audio)):
        timer(event)
    gained = {s: (count(s) - before[s][0], round(total(s) - before[s][1], 3)) for s in before}
    assert gained == {"asr": (1, 0.4), "nlu": (1, 0.01), "flow": (1, 0.01), "tts": (1, 0.48), "turn": (1, 0.9)}


def test_only_agents_with_the_skill_or_a_supervisor_take_from_a_queue(flow, cfg):
    store = cfg.store
    all_general_agents_busy(store)
    waiting = angry_caller(flow, store)
    store.add_user("temp", "agent", PASSWORD)  # an account with no place in the flow's roster
    temp, temp_csrf = logged_in(cfg, "temp")
    assert temp.get("/api/agent").json()["waiting"] == []
    assert temp.post("/api/agent/take", headers={"X-CSRF-Token": temp_csrf}).status_code == 409
    sup, sup_csrf = logged_in(cfg, "sup")
    assert sup.post("/api/agent/take", headers={"X-CSRF-Token": sup_csrf}).json()["call_id"] == waiting.record.call_id


def test_a_caller_put_straight_through_shows_on_that_agents_console(flow, cfg):
    store = cfg.store
    all_general_agents_busy(store)
    maria, csrf = logged_in(cfg, "maria")
    assert maria.post("/api/agent/status", json={"status": "available"}, headers={"X-CSRF-Token": csrf}).status_code == 200
    engine = start(flow, store, now=CLOCK)
    engine.handle(said("can I talk to a person", "speak_to_agent"))
    assert engine.record.agent == "maria" and engine.record.disposition == "agent"
    console = maria.get("/api/agent").json()
    assert console["status"] == "busy" and console["call"]["call_id"] == engine.record.call_id
    sup, _ = logged_in(cfg, "sup")
    assert sup.get("/api/wallboard").json()["service_level"] == 1.0  # reached a person at once


@pytest.mark.parametrize("next_url, lands", [("/calls", "/calls"), ("//evil.example", "/"),
                                             ("/\\evil.example", "/"), ("https://evil.example", "/")])
def test_login_only_returns_to_this_site(cfg, next_url, lands):
    c = client(cfg)
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"name": "maria", "password": PASSWORD, "csrf": token, "next": next_url},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == lands
