"""The demo bank flow, driven by text: every self-service answer, every queue, VIP by caller ID,
manners (sorry, clarify, recap, positive transfer), CSAT by voice and DTMF, goodbye, abandonment."""

from __future__ import annotations

import pytest
from flow_support import (
    ALICE_PHONE, BANK, BOB_PHONE, OPEN, STRANGER, authenticate, fresh_store, start, text_of,
    transfer_of,
)

from voicebot.flow import Ask, CallEngine, Hangup, load_flow
from voicebot.flow.scripted import pressed, said, silence


@pytest.fixture(scope="module")
def flow():
    return load_flow(BANK)


@pytest.fixture
def store(tmp_path):
    return fresh_store(tmp_path)


def test_greeting_by_caller_id_is_a_flow_setting(flow, store):
    from voicebot.flow.definition import Flow

    engine = CallEngine(flow, store, caller_id=ALICE_PHONE, now=OPEN)
    first = engine.start()
    assert "Alice" not in text_of(first)  # the demo bank: a caller ID proves nothing
    assert isinstance(first[-1], Ask) and engine.expecting.kind == "intent"
    settings = flow.spec.settings.model_copy(update={"greet_by_caller_id": True})
    greeting = Flow(flow.spec.model_copy(update={"settings": settings}))
    assert "Alice" in text_of(CallEngine(greeting, store, caller_id=ALICE_PHONE, now=OPEN).start())
    assert "Alice" not in text_of(CallEngine(greeting, store, caller_id=STRANGER, now=OPEN).start())


def test_balance_is_spoken_in_words_after_id_and_pin(flow, store):
    engine = start(flow, store)
    asked = engine.handle(said("what's my balance", "check_balance"))
    assert "customer number" in text_of(asked) and engine.expecting.length == 8
    answer = authenticate(engine)
    assert "one thousand five hundred twenty dollars and seventy-five cents" in text_of(answer)
    assert engine.record.authenticated and engine.expecting.kind == "yesno"


def test_balance_by_dtmf_only(flow, store):
    engine = start(flow, store)
    engine.handle(pressed("1"))
    answer = authenticate(engine, "87654321", "1357", spoken=False)
    assert "ninety-eight thousand two hundred dollars" in text_of(answer)


def test_recent_transactions(flow, store):
    engine = start(flow, store)
    engine.handle(said("show my recent transactions", "recent_transactions"))
    answer = text_of(authenticate(engine))
    assert "November 20" in answer and "forty-two dollars and ten cents" in answer
    assert "Green Grocer" in answer


def test_lost_card_is_blocked_at_once_and_recapped(flow, store):
    engine = start(flow, store)
    engine.handle(said("I lost my card", "report_lost_card"))  # her only active card
    answer = text_of(authenticate(engine))
    assert "blocked your debit card" in answer
    assert [c.status for c in store.get_customer("12345678").cards] == ["blocked", "inactive"]
    engine.handle(said("no that's all", "deny", yesno="no"))
    bye = engine.handle(said("five", digits="5"))
    assert "your debit card ending in 4 3 2 1 is now blocked" in text_of(bye)
    assert engine.record.csat == 5 and engine.record.outcome == "self_service"


def test_activate_card(flow, store):
    engine = start(flow, store)
    engine.handle(said("activate my new card", "activate_card"))
    answer = text_of(authenticate(engine))
    assert "credit card ending in 8 7 6 5 is now active" in answer
    assert {c.kind: c.status for c in store.get_customer("12345678").cards}["credit"] == "active"


def test_branch_hours_needs_no_authentication(flow, store):
    engine = start(flow, store)
    answer = text_of(engine.handle(said("when are you open", "branch_hours")))
    assert "Monday to Friday" in answer and not engine.record.authenticated


@pytest.mark.parametrize("intent, queue, reason, needs_auth", [
    ("transfer_money", "payments", "routing", True),
    ("pay_bill", "payments", "routing", True),
    ("reset_pin", "cards", "routing", True),
    ("dispute_charge", "disputes", "routing", True),
    ("update_address", "general", "routing", True),
    ("loan_inquiry", "loans", "routing", False),
    ("speak_to_agent", "general", "caller_request", False),
])
def test_each_queue(flow, store, intent, queue, reason, needs_auth):
    engine = start(flow, store)
    actions = engine.handle(said("i need help with that", intent))
    if needs_auth:
        assert not engine.done
        actions = authenticate(engine)
    transfer = transfer_of(actions)
    assert (transfer.queue, transfer.priority, transfer.reason) == (queue, "normal", reason)
    assert "I'll connect you with a specialist" in text_of(actions)
    rec = engine.record.to_dict()
    assert (rec["outcome"], rec["queue"], rec["reason"]) == ("transferred", queue, reason)
    assert rec["authenticated"] is needs_auth and engine.done


def test_complaint_goes_to_complaints_and_offers_callback_on_long_wait(flow, store):
    engine = start(flow, store)
    actions = engine.handle(said("I want to make a complaint", "complaint"))
    assert "call you back" in text_of(actions) and engine.expecting.kind == "yesno"
    done = engine.handle(said("yes please", "affirm", yesno="yes"))
    assert isinstance(done[-1], Hangup)
    rec = engine.record.to_dict()
    assert (rec["outcome"], rec["queue"], rec["disposition"]) == ("transferred", "complaints", "callback")
    assert store.tasks("callback")[0]["caller_id"] == STRANGER


def test_vip_priority_by_caller_id_without_authenticating(flow, store):
    engine = start(flow, store, caller=BOB_PHONE)
    transfer = transfer_of(engine.handle(said("I'd like to talk about a loan", "loan_inquiry")))
    assert transfer.priority == "vip" and engine.record.to_dict()["priority"] == "vip"
    assert not engine.record.authenticated


def test_three_wrong_pins_stop_trying_and_escalate(flow, store):
    engine = start(flow, store)
    engine.handle(said("pay a bill", "pay_bill"))
    engine.handle(pressed("12345678"))
    assert "don't match" in text_of(engine.handle(pressed("1111")))
    engine.handle(pressed("2222"))
    actions = engine.handle(pressed("3333"))
    assert "PIN" not in text_of(actions)
    rec = engine.record.to_dict()
    assert (rec["outcome"], rec["reason"], rec["priority"], rec["queue"]) == (
        "escalated", "repeated_failures", "high", "payments")
    assert not rec["authenticated"] and rec["failures"] == 3


def test_strongly_negative_turn_escalates_to_intents_queue(flow, store):
    engine = start(flow, store)
    actions = engine.handle(said("this is ridiculous, my transfer failed again!", "transfer_money",
                                 sentiment="negative", score=-0.8))
    rec = engine.record.to_dict()
    assert (rec["outcome"], rec["reason"], rec["queue"], rec["priority"]) == (
        "escalated", "negative_sentiment", "payments", "high")
    assert rec["sentiment_trajectory"] == [-0.8]
    assert transfer_of(actions).priority == "high"


def test_angry_ask_for_human_is_escalation_calm_one_is_routing(flow, store):
    angry = start(flow, store)
    angry.handle(said("get me a human NOW", "speak_to_agent", sentiment="negative", score=-0.9))
    assert (angry.record.outcome, angry.record.reason) == ("escalated", "negative_sentiment")
    calm = start(flow, store)
    calm.handle(said("can I talk to a person please", "speak_to_agent"))
    assert (calm.record.outcome, calm.record.reason) == ("transferred", "caller_request")


def test_one_mild_negative_is_acknowledged_two_in_a_row_escalate(flow, store):
    engine = start(flow, store)
    first = engine.handle(said("ugh, this app never works, I need my balance", "check_balance",
                               sentiment="negative", score=-0.3))
    assert text_of(first).startswith("I'm sorry about the trouble, let's sort it out.")
    assert not engine.done
    engine.handle(said("still annoyed, one two three four five six seven eight",
                       sentiment="negative", score=-0.3, digits="12345678"))
    rec = engine.record.to_dict()
    assert (rec["outcome"], rec["reason"], rec["queue"]) == ("escalated", "negative_sentiment", "general")
    assert rec["sentiment_trajectory"] == [-0.3, -0.3]


def test_three_no_matches_escalate(flow, store):
    engine = start(flow, store)
    assert "didn't get that" in text_of(engine.handle(said("purple monkey", "out_of_scope")))
    engine.handle(said("banana", "check_balance", confidence=0.2))
    assert not engine.done
    engine.handle(said("hmm", "out_of_scope"))
    rec = engine.record.to_dict()
    assert (rec["outcome"], rec["reason"], rec["queue"]) == ("escalated", "repeated_failures", "general")


def test_close_intents_get_one_clarifying_question(flow, store):
    engine = start(flow, store)
    asked = engine.handle(said("my account", "check_balance", confidence=0.41,
                               alternatives=(("recent_transactions", 0.38),)))
    assert text_of(asked) == "Would you like to check your balance, or hear your recent transactions?"
    assert engine.expecting.kind == "choice"
    assert set(engine.expecting.choices) == {"check_balance", "recent_transactions"}
    engine.handle(said("the transactions", "recent_transactions", confidence=0.5))
    assert "Green Grocer" in text_of(authenticate(engine))


def test_anything_else_accepts_a_new_request_directly(flow, store):
    engine = start(flow, store)
    engine.handle(said("balance", "check_balance"))
    authenticate(engine)
    answer = text_of(engine.handle(said("what are your branch hours", "branch_hours")))
    assert "Monday to Friday" in answer
    asked = engine.handle(said("yes", "affirm", yesno="yes"))
    assert text_of(asked) == "What else can I help you with?"
    answer = text_of(engine.handle(said("my transactions", "recent_transactions")))
    assert "Green Grocer" in answer  # already authenticated: no second ID/PIN
    assert engine.record.intents == ["check_balance", "branch_hours", "recent_transactions"]


def test_csat_by_voice_and_by_dtmf(flow, store):
    for answer, expected in ((said("four", digits="4"), 4), (pressed("2"), 2), (said("five"), 5)):
        engine = start(flow, store)
        engine.handle(said("branch hours", "branch_hours"))
        engine.handle(said("no", "deny", yesno="no"))
        assert engine.expecting.kind == "csat"
        engine.handle(answer)
        assert engine.record.csat == expected and engine.record.outcome == "self_service"


def test_goodbye_at_any_point_ends_the_call(flow, store):
    engine = start(flow, store)
    engine.handle(said("balance", "check_balance"))
    actions = engine.handle(said("actually never mind, bye", "goodbye"))
    assert isinstance(actions[-1], Hangup) and engine.done
    assert engine.record.outcome == "completed"


def test_hangup_mid_flow_is_abandoned_after_answer_is_self_service(flow, store):
    engine = start(flow, store)
    engine.handle(said("balance", "check_balance"))
    engine.hangup()
    assert engine.record.outcome == "abandoned" and engine.done
    served = start(flow, store)
    served.handle(said("branch hours", "branch_hours"))
    served.hangup()
    assert served.record.outcome == "self_service"
    assert served.handle(said("hello", "affirm")) == []


def test_no_resolution_within_time_limit_escalates(flow, store):
    engine = start(flow, store)
    engine.handle(said("balance", "check_balance"))
    engine.advance(301)
    engine.handle(pressed("12345678"))
    assert (engine.record.outcome, engine.record.reason) == ("escalated", "timeout")
    assert engine.record.to_dict()["handle_seconds"] == 301.0


def test_record_has_the_contract_keys(flow, store):
    engine = start(flow, store, caller=ALICE_PHONE)
    engine.handle(said("balance", "check_balance"))
    authenticate(engine)
    engine.handle(said("no", "deny", yesno="no"))
    engine.advance(42)
    engine.handle(pressed("5"))
    rec = engine.record.to_dict()
    for key in ("call_id", "caller_id", "turns", "authenticated", "outcome", "queue", "priority",
                "reason", "csat", "summary", "started_at", "ended_at", "handle_seconds"):
        assert key in rec
    turn = rec["turns"][1]
    assert set(turn["caller"]) >= {"text", "intent", "confidence", "sentiment"}
    assert "text" in turn["bot"]
    assert rec["handle_seconds"] == 42.0 and rec["queue"] is None and rec["reason"] is None
    assert "Alice Moreno" in rec["summary"]
    assert store.calls()[-1]["outcome"] == "self_service"


def test_unknown_id_and_wrong_length_are_reasked_then_escalate(flow, store):
    engine = start(flow, store)
    engine.handle(said("balance", "check_balance"))
    asked = text_of(engine.handle(pressed("11112222")))  # unknown: nothing said before the PIN
    assert "PIN" in asked and "find" not in asked
    assert "don't match" in text_of(engine.handle(pressed("1234")))
    reasked = text_of(engine.handle(pressed("123")))
    assert "four digits" in reasked and "Thanks" not in reasked
    engine.handle(pressed("99"))
    assert (engine.record.outcome, engine.record.reason) == ("escalated", "repeated_failures")


def test_three_no_inputs_escalate_and_one_is_reprompted(flow, store):
    from voicebot.flow.scripted import silence
    engine = start(flow, store)
    assert "didn't hear anything" in text_of(engine.handle(silence()))
    engine.handle(silence())
    engine.handle(silence())
    assert (engine.record.outcome, engine.record.reason) == ("escalated", "repeated_failures")


def test_yes_with_a_new_request_goes_straight_to_it(flow, store):
    engine = start(flow, store)
    engine.handle(said("branch hours", "branch_hours"))
    answer = engine.handle(said("yes, I lost my card", "report_lost_card", yesno="yes"))
    assert "customer number" in text_of(answer)


def test_neutral_turns_get_no_apology(flow, store):
    engine = start(flow, store)
    assert "sorry" not in text_of(engine.handle(said("branch hours", "branch_hours"))).lower()


def test_bye_at_anything_else_still_gets_the_survey(flow, store):
    engine = start(flow, store)
    engine.handle(said("branch hours please", "branch_hours"))
    assert engine.expecting.kind == "yesno"
    engine.handle(said("no that's all thanks bye", "goodbye"))
    assert engine.expecting.kind == "csat"
    engine.handle(said("four", "out_of_scope", digits="4"))
    assert engine.record.csat == 4 and engine.record.outcome == "self_service"


def test_asking_for_a_person_about_a_topic_goes_to_its_specialists(flow, store):
    engine = start(flow, store)
    actions = engine.handle(said("can I speak to someone about a loan", "speak_to_agent", 0.68,
                                 alternatives=(("speak_to_agent", 0.68), ("loan_inquiry", 0.31))))
    assert transfer_of(actions).queue == "loans"
    plain = start(flow, store)
    actions = plain.handle(said("let me talk to a human", "speak_to_agent", 0.9,
                                alternatives=(("speak_to_agent", 0.9), ("loan_inquiry", 0.05))))
    assert (transfer_of(actions).queue, transfer_of(actions).reason) == ("general", "caller_request")


def test_a_re_prompt_offers_the_keypad_menu_and_a_key_works(flow, store):
    """A caller the recogniser cannot follow hears the main menu's keys after a no-match, made from
    the state's dtmf map and the flow's intent_phrases, and pressing one acts on it."""
    engine = start(flow, store)
    again = text_of(engine.handle(said("purple monkey dishwasher", "out_of_scope")))
    assert "didn't get that" in again
    assert "press 1 to check your balance" in again and "or 0 to speak with an agent" in again
    silent = text_of(engine.handle(silence()))  # a second failure: its own apology, the menu once
    assert silent.count("Sorry") == 1 and silent.count("keypad") == 1
    assert "customer number" in text_of(engine.handle(pressed("1")))
    assert engine.intent == "check_balance"


def test_the_keypad_menu_is_a_cached_fixed_prompt_and_can_be_switched_off(flow):
    from voicebot.flow.templates import keypad_menu
    from voicebot.pipeline.prompts import fixed_prompts

    menu = keypad_menu(flow.spec, flow.spec.states["main_menu"])
    assert menu in fixed_prompts(flow)  # rendered before the first call, like every fixed prompt
    assert keypad_menu(flow.spec, flow.spec.states["anything_else"]) is None  # a yes/no prompt has no menu
    quiet = flow.spec.model_copy(update={"messages": flow.spec.messages.model_copy(update={"keypad_menu": ""})})
    assert keypad_menu(quiet, quiet.states["main_menu"]) is None
