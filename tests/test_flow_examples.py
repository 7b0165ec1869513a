"""Each call-flow type's example flow in flows/examples/, driven by text."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from flow_support import EXAMPLES, fresh_store, start, text_of, transfer_of

from voicebot.flow import Hangup, RecordVoicemail, load_flow
from voicebot.flow.scripted import pressed, said


@pytest.fixture
def store(tmp_path):
    return fresh_store(tmp_path)


def example(name: str):
    return load_flow(EXAMPLES / f"{name}.yml")


def test_sequential_asks_in_order_and_uses_answers(store):
    engine = start(example("sequential"), store)
    asked = engine.handle(said("Maria Lopez"))
    assert text_of(asked) == "Thanks Maria Lopez. Can you still make your appointment on Friday?"
    done = engine.handle(said("yes I can", "affirm", yesno="yes"))
    assert "see you Friday" in text_of(done) and isinstance(done[-1], Hangup)
    assert engine.record.outcome == "completed"


@pytest.mark.parametrize("event, kind, target", [
    (pressed("204"), "extension", "204"),
    (said("two oh four"), "extension", "204"),
    (said("support please"), "queue", "support"),
])
def test_direct_extension_keyed_said_or_department(store, event, kind, target):
    engine = start(example("direct_extension"), store)
    assert engine.expecting.kind == "choice" and engine.expecting.length == 3
    transfer = transfer_of(engine.handle(event))
    assert (transfer.target_kind if kind == "extension" else "queue") == kind
    assert (transfer.target if kind == "extension" else transfer.queue) == target


def test_direct_extension_wrong_length_is_no_match(store):
    engine = start(example("direct_extension"), store)
    assert "didn't get that" in text_of(engine.handle(pressed("12")))


@pytest.mark.parametrize("when, open_", [
    (datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc), True),    # Mon 10:30 Berlin
    (datetime(2026, 11, 23, 17, 30, tzinfo=timezone.utc), False),  # Mon 18:30 Berlin
    (datetime(2026, 11, 27, 14, 30, tzinfo=timezone.utc), False),  # Fri 15:30 Berlin: closes at 15
    (datetime(2026, 12, 24, 9, 30, tzinfo=timezone.utc), False),   # Thu, a holiday
    (datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc), False),   # Saturday
])
def test_time_based_routing_in_office_timezone(store, when, open_):
    engine = start(example("time_based"), store, now=when)
    record = engine.record
    if open_:
        assert engine.done and record.queue == "front_desk"
    else:
        assert not engine.done and engine.expecting.kind == "free"
        engine.handle(said("please call me back"))
        assert store.tasks("voicemail")[0]["text"] == "please call me back"


def test_time_based_closed_offers_voicemail_action(store):
    engine = start(example("time_based"), store, now=datetime(2026, 11, 23, 20, tzinfo=timezone.utc))
    first = engine.record.turns[0].bot_text
    assert "closed" in first and "message" in first


def test_skill_based_picks_most_idle_agent_with_the_skill(store):
    engine = start(example("skill_based"), store)
    transfer = transfer_of(engine.handle(said("I want to pay my bill", "pay_bill")))
    assert (transfer.queue, transfer.agent) == ("billing", "bo")
    tech = start(example("skill_based"), store)
    assert transfer_of(tech.handle(said("my internet is down", "speak_to_agent"))).agent == "cy"


@pytest.mark.parametrize("event, queue", [
    (pressed("1"), "sales"), (said("one"), "sales"), (said("support please"), "support"),
    (pressed("2"), "support"),
])
def test_ivr_menu_press_or_say(store, event, queue):
    engine = start(example("ivr_menu"), store)
    assert engine.expecting.choices == ("sales", "support", "address")
    assert transfer_of(engine.handle(event)).queue == queue


def test_ivr_menu_information_option_returns_to_menu(store):
    engine = start(example("ivr_menu"), store)
    actions = engine.handle(pressed("3"))
    assert "1 Main Street" in text_of(actions) and "Press or say 1" in text_of(actions)
    assert not any(isinstance(a, RecordVoicemail) for a in actions)


TARGETS = """
name: targets
start: menu
agents: [{name: zoe, skills: [vip_desk]}]
queues: {vip_desk: {}}
states:
  menu:
    ask: "Press 1 for Zoe, 2 for our partner line."
    expect: choice
    choices: [zoe, partner]
    dtmf: {"1": zoe, "2": partner}
    on: {zoe: to_zoe, partner: to_partner}
  to_zoe: {transfer: {agent: zoe}}
  to_partner: {say: "Transferring you to our partner.", transfer: {external: "+15550001111"}}
"""


@pytest.mark.parametrize("key, kind, target", [("1", "agent", "zoe"), ("2", "external", "+15550001111")])
def test_transfer_to_an_agent_or_an_external_number(store, key, kind, target):
    from voicebot.flow import flow_from_text
    engine = start(flow_from_text(TARGETS), store)
    transfer = transfer_of(engine.handle(pressed(key)))
    assert (transfer.target_kind, transfer.target, transfer.queue) == (kind, target, None)
    assert engine.record.outcome == "transferred" and engine.record.disposition == kind
