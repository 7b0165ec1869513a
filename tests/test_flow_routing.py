"""Erlang C against known values, and every routing rule: fixed order, round robin, most idle,
skill, language, percentage split, VIP/high priority, business hours, callback and voicemail."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest
from flow_support import BANK, STRANGER, authenticate, fresh_store, start, text_of, transfer_of

from voicebot.flow import Hangup, RecordVoicemail, flow_from_text, load_flow
from voicebot.flow.erlang import average_wait, erlang_c, service_level
from voicebot.flow.routing import Caller
from voicebot.flow.scripted import pressed, said, silence

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def erlang_c_by_factorials(n: int, a: float) -> float:
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


@pytest.mark.parametrize("agents, traffic, expected", [
    (2, 1.0, 1 / 3), (3, 2.0, 4 / 9), (10, 8.0, 0.4092), (11, 10.0, 0.6821), (14, 10.0, 0.1741),
])
def test_erlang_c_known_values(agents, traffic, expected):
    assert erlang_c(agents, traffic) == pytest.approx(expected, abs=5e-4)
    assert erlang_c(agents, traffic) == pytest.approx(erlang_c_by_factorials(agents, traffic))


def test_erlang_wait_and_service_level():
    # 200 calls/hour × 180 s = 10 erlangs on 11 agents: ASA = Pw × AHT / (N − A)
    assert average_wait(11, 200, 180) == pytest.approx(0.6821 * 180, abs=0.1)
    assert service_level(14, 200, 180, 20) == pytest.approx(1 - 0.1741 * math.exp(-4 * 20 / 180), abs=1e-3)
    assert average_wait(2, 200, 180) == math.inf and erlang_c(2, 10.0) == 1.0


ROUTING = """
name: routing
start: menu
hours:
  office: {timezone: America/New_York, weekly: {mon: "09:00-17:00"}, holidays: [2026-12-21]}
agents:
  - {name: a1, skills: [x], idle_seconds: 10}
  - {name: a2, skills: [x, es], languages: [en, es], idle_seconds: 50}
  - {name: a3, skills: [x], idle_seconds: 30, tier: 2}
  - {name: b1, skills: [y], status: busy}
  - {name: c1, skills: [z], status: offline}
queues:
  fixed: {strategy: fixed_order, agents: [a3, a1, a2]}
  robin: {strategy: round_robin, skills: [x]}
  idle: {strategy: most_idle, skills: [x]}
  spanish: {strategy: skill, skills: [x], match_language: true}
  busy: {skills: [y], waiting: 6, calls_per_hour: 2, handle_seconds: 300, callback_over_seconds: 600}
  busy_long: {skills: [y], waiting: 6, calls_per_hour: 2, handle_seconds: 300, callback_over_seconds: 30}
  nobody: {skills: [z]}
  split: {strategy: percentage, split: {fixed: 70, robin: 30}}
  daytime: {skills: [x], hours: office, after_hours: message}
states:
  menu: {ask: "Which queue?", expect: intent}
"""


@pytest.fixture
def router():
    return flow_from_text(ROUTING).router


def test_fixed_order_restarts_from_the_top(router):
    picks = [router.route("fixed", Caller(), MONDAY_NOON).agent for _ in range(3)]
    assert picks == ["a3", "a3", "a3"]


def test_round_robin_rotates(router):
    picks = [router.route("robin", Caller(), MONDAY_NOON).agent for _ in range(4)]
    assert picks == ["a1", "a2", "a3", "a1"]


def test_most_idle_and_language(router):
    assert router.route("idle", Caller(), MONDAY_NOON).agent == "a2"
    assert router.route("spanish", Caller(language="es"), MONDAY_NOON).agent == "a2"
    assert router.route("idle", Caller(), MONDAY_NOON, min_tier=2).agent == "a3"  # hierarchical


def test_percentage_split_is_deterministic_70_30(router):
    queues = [router.route("split", Caller(), MONDAY_NOON).queue for _ in range(10)]
    assert queues.count("fixed") == 7 and queues.count("robin") == 3


def test_queue_position_and_wait_by_priority(router):
    normal = router.route("busy", Caller(), MONDAY_NOON)
    vip = router.route("busy", Caller(priority="vip"), MONDAY_NOON)
    high = router.route("busy", Caller(priority="high"), MONDAY_NOON)
    assert (normal.kind, normal.position, vip.position, high.position) == ("queued", 7, 1, 4)
    assert vip.estimated_wait < high.estimated_wait < normal.estimated_wait
    assert normal.estimated_wait == pytest.approx(average_wait(1, 2, 300))
    assert router.route("busy_long", Caller(), MONDAY_NOON).kind == "callback_offer"


def test_no_staffed_agent_means_voicemail_and_hours_with_holidays(router):
    assert router.route("nobody", Caller(), MONDAY_NOON).kind == "voicemail"
    assert router.route("daytime", Caller(), datetime(2026, 11, 23, 15, tzinfo=timezone.utc)).kind == "agent"
    evening = router.route("daytime", Caller(), datetime(2026, 11, 23, 23, tzinfo=timezone.utc))
    assert (evening.kind, evening.after_hours) == ("after_hours", "message")
    holiday = datetime(2026, 12, 21, 15, tzinfo=timezone.utc)  # a Monday, but a holiday
    assert router.route("daytime", Caller(), holiday).kind == "after_hours"


# --- through the bank flow ------------------------------------------------------------------

@pytest.fixture
def store(tmp_path):
    return fresh_store(tmp_path)


SUNDAY_NIGHT = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)  # Sunday 22:00 in New York


def test_after_hours_callback_offer_stores_callers_number(store):
    engine = start(load_flow(BANK), store, now=SUNDAY_NIGHT)
    asked = engine.handle(said("I'd like a loan", "loan_inquiry"))
    assert "closed" in text_of(asked) and engine.expecting.kind == "yesno"
    engine.handle(pressed("1"))
    assert engine.record.disposition == "callback"
    assert store.tasks("callback") == [{**store.tasks("callback")[0], "caller_id": STRANGER,
                                        "queue": "loans"}]


def test_after_hours_declined_callback_says_closed(store):
    engine = start(load_flow(BANK), store, now=SUNDAY_NIGHT)
    engine.handle(said("agent please", "speak_to_agent"))
    actions = engine.handle(said("no", "deny", yesno="no"))
    assert "closed" in text_of(actions) and isinstance(actions[-1], Hangup)
    assert engine.record.disposition == "after_hours" and store.tasks() == []


def test_after_hours_voicemail_is_stored_as_callback_task(store):
    engine = start(load_flow(BANK), store, now=SUNDAY_NIGHT)
    engine.handle(said("reset my pin", "reset_pin"))
    actions = authenticate(engine)
    assert any(isinstance(a, RecordVoicemail) for a in actions)
    assert engine.expecting.kind == "free"
    engine.handle(said("Hi, please call me about my PIN, thanks", "out_of_scope"))
    task = store.tasks("voicemail")[0]
    assert (task["caller_id"], task["queue"], task["text"]) == (
        STRANGER, "cards", "Hi, please call me about my PIN, thanks")
    assert engine.record.disposition == "voicemail" and engine.done


def test_callback_offer_when_erlang_wait_exceeds_threshold_declined_means_queued(store):
    engine = start(load_flow(BANK), store)
    asked = text_of(engine.handle(said("complaint", "complaint")))
    assert "The wait is about fifty minutes" in asked
    actions = engine.handle(silence())
    transfer = transfer_of(actions)
    assert (transfer.queue, transfer.position) == ("complaints", 5)
    assert "number 5 in line" in text_of(actions)
    assert engine.record.disposition == "queued"


HIERARCHY = """
name: tiers
start: menu
escalation: {senior_tier: 2}
agents:
  - {name: junior, skills: [general], tier: 1, idle_seconds: 999}
  - {name: senior, skills: [general], tier: 2, idle_seconds: 1}
queues: {general: {strategy: most_idle}}
requests: {speak_to_agent: to_agent}
states:
  menu: {ask: "How can I help?", expect: intent}
  to_agent: {transfer: {queue: general, reason: caller_request}}
"""


def test_hierarchical_escalation_goes_to_the_senior_tier(store):
    flow = flow_from_text(HIERARCHY)
    calm = start(flow, store)
    assert transfer_of(calm.handle(said("an agent please", "speak_to_agent"))).agent == "junior"
    angry = start(flow, store)
    transfer = transfer_of(angry.handle(said("agent NOW", "speak_to_agent", score=-0.9)))
    assert (transfer.agent, transfer.priority, transfer.reason) == ("senior", "high", "negative_sentiment")
    assert "right away" in angry.record.turns[-1].bot_text
