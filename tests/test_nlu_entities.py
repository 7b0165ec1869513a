"""Entities from ASR-style text (spaCy tokenizer + the ASR number normaliser)."""

from __future__ import annotations

import pytest

from voicebot.nlu.entities import extract


@pytest.mark.parametrize(
    "text, expected",
    [
        ("my customer id is one two three four five six seven eight", {"digits": "12345678", "digits_kind": "customer_id"}),
        ("1234 5678", {"digits": "12345678", "digits_kind": "customer_id"}),
        ("my pin is four three two one", {"digits": "4321", "digits_kind": "pin"}),
        ("the card ending in double five one two", {"digits": "5512", "digits_kind": "card_last4"}),
        ("transfer two hundred and fifty dollars to savings", {"amount": 250.0, "currency": "USD"}),
        ("send fifty pounds to my mum tomorrow", {"amount": 50.0, "currency": "GBP", "date": "tomorrow"}),
        ("twenty five dollars and ten cents", {"amount": 25.1, "currency": "USD"}),
        ("move three hundred to savings", {"amount": 300.0}),
        ("it happened on the fifth of march", {"date": "the fifth of march"}),
        ("pay a hundred bucks next friday", {"amount": 100.0, "currency": "USD", "date": "next friday"}),
        ("yeah that's right", {"yesno": "yes"}),
        ("nope", {"yesno": "no"}),
        ("not really", {"yesno": "no"}),
        ("I'd like to check my balance", {}),
    ],
)
def test_entities(text, expected):
    assert extract(text) == expected
