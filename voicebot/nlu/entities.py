"""Entities in one caller turn, from ASR-style text: digit strings, money, dates, yes/no.

Spoken numbers become numerals with the ASR's own normaliser (voicebot.asr.numbers) so the NLU
and the recogniser agree on "double five" or "twenty five dollars"; spaCy's tokenizer and Matcher
then find dates and yes/no words. Only the tokenizer runs (no tagger/parser/NER): ~0.3 ms a turn.

Keys: digits (str), digits_kind (customer_id | pin_or_last4 | card_last4 | pin), amount (float),
currency (ISO code), date (the words said), yesno ("yes" | "no")."""

from __future__ import annotations

import re
import threading
from typing import Any

from voicebot.asr.numbers import normalize_numbers
from voicebot.nlu.torchgate import torch_blocked

CURRENCIES = {
    "$": "USD", "dollar": "USD", "dollars": "USD", "buck": "USD", "bucks": "USD",
    "£": "GBP", "pound": "GBP", "pounds": "GBP", "quid": "GBP",
    "€": "EUR", "euro": "EUR", "euros": "EUR",
}
MONEY_VERBS = {"transfer", "send", "move", "pay", "wire", "put", "shift", "borrow", "withdraw", "deposit"}
YES = ("yes", "yeah", "yep", "yup", "sure", "correct", "that's right", "thats right", "absolutely", "of course", "uh huh", "mm hmm", "okay", "ok")
NO = ("no", "nope", "nah", "not really", "negative", "that's wrong", "incorrect", "not at all")
MONTHS = "january february march april may june july august september october november december".split()
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
ORDINAL_RE = r"^(\d{1,2}(st|nd|rd|th)?|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty|thirtieth|thirty)$"

_LOCK = threading.Lock()
_NLP = None


def _pipeline():
    """spaCy tokenizer + Matcher for dates (loaded once per process). A blank English pipeline:
    only its tokenizer and lexical attributes (LOWER, LIKE_NUM) are used, the same rules a packaged
    model's tokenizer holds, and building them is ~3x faster than loading a package from disk."""
    global _NLP
    with _LOCK:
        if _NLP is None:
            with torch_blocked():
                import spacy
                from spacy.matcher import Matcher

            nlp = spacy.blank("en")
            matcher = Matcher(nlp.vocab)
            month = {"LOWER": {"IN": MONTHS}}
            ordinal = {"LOWER": {"REGEX": ORDINAL_RE}}
            matcher.add("DATE", [
                [{"LOWER": {"IN": ["today", "tomorrow", "yesterday", "tonight"]}}],
                [{"LOWER": {"IN": ["last", "next", "this"]}}, {"LOWER": {"IN": WEEKDAYS + ["week", "month", "year", "weekend"]}}],
                [{"LOWER": {"IN": ["on"]}, "OP": "?"}, {"LOWER": {"IN": WEEKDAYS}}],
                [{"LOWER": "the"}, ordinal, {"LOWER": "of"}, month],
                [ordinal, {"LOWER": "of"}, month],
                [month, ordinal],
                [month, ordinal, {"LIKE_NUM": True}],
                [{"TEXT": {"REGEX": r"^\d{4}-\d{2}-\d{2}$"}}],
                [{"TEXT": {"REGEX": r"^\d{1,2}/\d{1,2}(/\d{2,4})?$"}}],
                [{"LOWER": {"IN": ["a", "two", "three", "2", "3", "few"]}}, {"LOWER": {"IN": ["days", "weeks", "months"]}}, {"LOWER": "ago"}],
            ], greedy="LONGEST")
            _NLP = (nlp, matcher)
    return _NLP


def extract(text: str) -> dict[str, Any]:
    nlp, matcher = _pipeline()
    lowered = text.lower().strip()
    normalized = normalize_numbers(lowered)
    doc = nlp.make_doc(normalized)
    found: dict[str, Any] = {}
    _money(doc, normalized, found)
    _digits(normalized, lowered, found)
    dates = [doc[s:e].text for _, s, e in matcher(doc)]
    if dates:
        found["date"] = max(dates, key=len).removeprefix("on ")
    yesno = _yesno(lowered)
    if yesno:
        found["yesno"] = yesno
    return found


def _money(doc, normalized: str, found: dict[str, Any]) -> None:
    tokens = [t.text.lower() for t in doc]
    for i, tok in enumerate(tokens):
        number = _number(tok)
        if number is None:
            continue
        before = tokens[i - 1] if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        currency = CURRENCIES.get(after) or CURRENCIES.get(before) or ("USD" if tok.startswith("$") else None)
        money_context = any(v in tokens[:i] for v in MONEY_VERBS) and len(tok.strip("$")) < 4 or "." in tok
        if currency or money_context:
            found["amount"] = number
            if currency:
                found["currency"] = currency
            return


def _number(tok: str) -> float | None:
    try:
        return float(tok.lstrip("$£€").replace(",", ""))
    except ValueError:
        return None


def _digits(normalized: str, lowered: str, found: dict[str, Any]) -> None:
    """A run of ≥3 digits not used as money ("1234 5678" joins: callers pause inside IDs)."""
    if "amount" in found and not re.search(r"\b(pin|code|ending|last four|number|id)\b", lowered):
        return
    runs = re.findall(r"(?<![$£€\d.])\d+(?:\s+\d+)*(?![\d.])", normalized)
    digits = max(("".join(r.split()) for r in runs), key=len, default="")
    if len(digits) < 3:
        return
    found["digits"] = digits
    if len(digits) == 8:
        found["digits_kind"] = "customer_id"
    elif len(digits) == 4:
        found["digits_kind"] = "card_last4" if re.search(r"\b(card|ending|last four)\b", lowered) else (
            "pin" if re.search(r"\b(pin|code)\b", lowered) else "pin_or_last4")
    if found.get("amount") == float(digits) and "currency" not in found:
        del found["amount"]  # the number was an ID read out, not money


def _yesno(lowered: str) -> str | None:
    words = re.sub(r"[^\w\s']", " ", lowered).split()
    head = " ".join(words[:3])
    for phrase, value in sorted([(p, "yes") for p in YES] + [(p, "no") for p in NO], key=lambda pv: -len(pv[0])):
        if head == phrase or head.startswith(phrase + " "):
            return value
    return None
