"""WER and the normalisation that makes transcripts comparable."""

import pytest

from voicebot.asr.domain import apply_hints
from voicebot.asr.base import Hints
from voicebot.asr.wer import corpus_wer, edit_distance, normalize_text, wer


def test_normalisation_ignores_case_punctuation_and_number_form():
    assert normalize_text("Ten of clubs.") == normalize_text("10 of clubs")
    assert normalize_text("Five, five.") == normalize_text("five five")
    assert normalize_text("My account is 3-14159") == normalize_text("my account is three one four one five nine")
    assert normalize_text("Mr. Dashwood, ill-disposed") == "mister dashwood ill disposed"
    assert normalize_text("I'd like $25") == normalize_text("i'd like twenty five dollars")


def test_wer_counts_substitutions_deletions_insertions():
    assert wer("four queen of clubs", "for queen of clubs") == 0.25
    assert wer("a b c d", "a c d") == 0.25
    assert wer("a b", "a b c d") == 1.0
    assert edit_distance(["a", "b"], ["b", "a"]) == 2


def test_corpus_wer_weights_by_reference_words():
    assert corpus_wer([("a b c", "a b"), ("d", "e")]) == 0.5
    assert corpus_wer([]) == 0.0


@pytest.mark.parametrize(
    "text, hints, expected",
    [
        ("One, two, three, four.", Hints("digits"), "1234"),
        ("Yeah, that's right.", Hints("yesno"), "yes"),
        ("No, it's not.", Hints("yesno"), "no"),
        ("I'd like my balance please", Hints("choice", ("balance", "transfer")), "balance"),
        ("transfers", Hints("choice", ("balance", "transfer")), "transfer"),
        ("  hello   there ", Hints(), "hello there"),
        ("banana", Hints("yesno"), "banana"),  # no decisive word: raw text, the flow re-prompts
    ],
)
def test_prompt_kind_normalises_transcripts(text, hints, expected):
    assert apply_hints(text, hints) == expected
