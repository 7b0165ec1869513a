"""A yes/no question the line garbles twice still gets through: its re-prompt names the keys
("Or press 1 for yes, or 2 for no."), and those keys answer it — at a state's own yes/no prompt
("Is there anything else…?") and at a sub-question such as a confirmation."""

from __future__ import annotations

from flow_support import authenticate, start, text_of
from test_conversation_judgement import MARGINAL_ACTIVATE, card_statuses
from test_flow_bank import flow, store  # noqa: F401  (the bank flow and a fresh demo store)

from voicebot.flow.scripted import pressed, said
from voicebot.flow.templates import keypad_yesno

GARBLED = said("from London it's my orders", "out_of_scope", 0.4)
KEYS = "press 1 for yes, or 2 for no"


def test_a_confirmation_reprompt_names_the_keys_and_1_confirms(flow, store):
    engine = start(flow, store)
    engine.handle(MARGINAL_ACTIVATE)
    first = text_of(engine.handle(GARBLED))
    assert KEYS in first and engine.expecting.kind == "yesno"
    engine.handle(pressed("1"))
    authenticate(engine, spoken=False)
    assert card_statuses(store)["credit"] == "active"


def test_anything_else_reprompt_names_the_keys_and_2_ends_it(flow, store):
    engine = start(flow, store)
    engine.handle(said("what's my balance", "check_balance", 0.95))
    authenticate(engine, spoken=False)
    assert engine.state_name == "anything_else"
    assert KEYS in text_of(engine.handle(GARBLED))
    engine.handle(pressed("2"))
    assert engine.state_name == "survey"


def test_an_intent_prompt_reprompt_does_not_offer_yes_and_no(flow, store):
    engine = start(flow, store)
    assert "for yes" not in text_of(engine.handle(GARBLED))


def test_a_flow_can_reword_or_silence_the_key_hint(flow):
    spec = flow.spec
    assert keypad_yesno(spec, {}) == "Or press 1 for yes, or 2 for no."
    assert keypad_yesno(spec, {"9": "yes", "8": "no"}) == "Or press 9 for yes, or 8 for no."
    assert keypad_yesno(spec, {"0": "speak_to_agent"}) is None  # a map without yes/no keys: nothing to offer
    for message, expected in (("Key {yes} for yes and {no} for no.", "Key 1 for yes and 2 for no."), ("", None)):
        reworded = spec.model_copy(update={"messages": spec.messages.model_copy(update={"keypad_yesno": message})})
        assert keypad_yesno(reworded, {}) == expected
