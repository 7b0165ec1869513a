"""Turn one caller event into the answer the current prompt expects (or no match).

Speech and DTMF are equivalent: a key press is looked up in the prompt's `dtmf` map, spoken digits
("one two three") count as digits, and yes/no comes from the `yesno` entity or affirm/deny."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from voicebot.events import DtmfPressed, Understood
from voicebot.flow.schema import YESNO_KEYS, SettingsSpec, StateSpec
from voicebot.flow.speech import digits_in
from voicebot.intents import OUT_OF_SCOPE

_NO_MATCH_INTENTS = {OUT_OF_SCOPE}
_YESNO_INTENTS = {"affirm": "yes", "deny": "no"}
_ORDINALS = {"first": 0, "former": 0, "second": 1, "latter": 1, "last": -1}
# Words only a caller asking for a human uses. "someone" alone is left out ("someone stole my
# card"); "speak to someone", "put me through" and "talk to your card department" ask for a person.
_PERSON = re.compile(r"\b(agent|person|human|representative|operator|advisor|adviser|"
                     r"real people|somebody real|someone real)\b"
                     r"|\b(speak|talk|chat)\s+(to|with|for)\s+(some|any)(one|body)\b"
                     r"|\bput me through\b|\bconnect me (to|with)\b"
                     r"|\b(speak|talk)\b[^.?!]*\b(department|team)\b", re.IGNORECASE)

# "no, but I'd like …", "yes please, and also …": the yes/no is followed by more to come
_GOES_ON = re.compile(r"\b(yes|yeah|yep|no|nope|nah)\b(\W+[a-z']+){0,2}?\W+(but|and|also|actually)\b",
                      re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    """kind: intent | value | clarify | none. `value` is the intent, digits, yes/no, choice, text
    or csat score; `options` the two intents to ask between for `clarify`."""

    kind: str
    value: str = ""
    options: tuple[str, ...] = ()


NO_MATCH = Answer("none")


def event_digits(event: Understood | DtmfPressed) -> str:
    if isinstance(event, DtmfPressed):
        return event.digits
    found = event.entities.get("digits")
    return str(found) if found else digits_in(event.text)


def ranked_intents(event: Understood) -> list[tuple[str, float]]:
    """The best reading and its runner-ups, most likely first."""
    return sorted({event.intent: event.confidence, **dict(event.alternatives)}.items(),
                  key=lambda kv: -kv[1])


def goes_on_past_yes_no(text: str) -> bool:
    """A yes or no followed by "but", "and", "also" or "actually": the caller says more than the
    prompt asked, so what follows is meant (unlike "No, PIN?", a short answer misheard)."""
    return bool(_GOES_ON.search(text))


def asked_for_person(text: str) -> bool:
    return bool(_PERSON.search(text))


def spotted_state(text: str, phrases: dict[str, list[str]], gap: int = 0) -> str | None:
    """The state whose global phrase the caller said ("sorry, wrong number" → wrong_number). With
    `gap`, up to that many words may stand between a phrase's words: the recogniser inserts one
    now and then (flite slt "my customer number was wrong" → "My customer and number was on.")."""
    lowered = " ".join(re.findall(r"[a-z']+", text.lower()))
    between = rf"\s+(?:[a-z']+\s+){{0,{gap}}}"
    for state, words in phrases.items():
        if any(re.search(r"\b" + between.join(map(re.escape, w.lower().split())) + r"\b", lowered)
               for w in words):
            return state
    return None


def read_intent(event: Understood | DtmfPressed, dtmf: dict[str, str],
                settings: SettingsSpec, known: set[str], actionable: set[str] | None = None) -> Answer:
    """An intent the flow knows, a clarifying question between two actionable ones (two requests
    the flow can act on, never "goodbye" or "yes"), or no match. The question is asked when the
    reading is unsure and its two likeliest requests are close, or are both at least a third of
    low_confidence: "what's going on with my account" (transactions 0.55, balance 0.22) is better
    asked about than answered with "Sorry, I didn't get that"."""
    if isinstance(event, DtmfPressed):
        value = dtmf.get(event.digits)
        return Answer("intent", value) if value else NO_MATCH
    if event.intent not in _NO_MATCH_INTENTS and event.confidence >= settings.low_confidence:
        return Answer("intent", event.intent) if event.intent in known else NO_MATCH
    ranked = ranked_requests(event, known if actionable is None else actionable)
    floor = clarify_floor(settings)
    if len(ranked) >= 2 and ranked[0][1] >= floor \
            and (ranked[0][1] - ranked[1][1] <= settings.clarify_margin or ranked[1][1] >= floor):
        return Answer("clarify", options=(ranked[0][0], ranked[1][0]))
    return NO_MATCH


def clarify_floor(settings: SettingsSpec) -> float:
    """How likely a request must be to be offered in a clarifying question: a third of low_confidence."""
    return settings.low_confidence / 3


def ranked_requests(event: Understood, pool: Collection[str]) -> list[tuple[str, float]]:
    """The readings' intents that are in `pool`, most likely first; never out_of_scope."""
    return [(i, c) for i, c in ranked_intents(event) if i in pool and i not in _NO_MATCH_INTENTS]


def unsure_request(event: Understood | DtmfPressed, actionable: set[str], settings: SettingsSpec) -> str:
    """The likeliest request the flow acts on in an answer it did not take, when at least
    `clarify_floor` likely; "" when there is none."""
    if not isinstance(event, Understood):
        return ""
    ranked = ranked_requests(event, actionable)
    return ranked[0][0] if ranked and ranked[0][1] >= clarify_floor(settings) else ""


def read_yesno(event: Understood | DtmfPressed, dtmf: dict[str, str]) -> Answer:
    if isinstance(event, DtmfPressed):
        value = (dtmf or YESNO_KEYS).get(event.digits)
        return Answer("value", value) if value in ("yes", "no") else NO_MATCH
    value = event.entities.get("yesno") or _YESNO_INTENTS.get(event.intent)
    return Answer("value", value) if value in ("yes", "no") else NO_MATCH


def read_choice(event: Understood | DtmfPressed, state: StateSpec, labels: dict[str, str]) -> Answer:
    """A menu choice by key, by spoken number ("one"), by name, or by intent; else digits."""
    digits = event_digits(event)
    if isinstance(event, DtmfPressed) and digits in state.dtmf:
        return Answer("value", state.dtmf[digits])
    if isinstance(event, Understood):  # words first: "the credit one" is not key 1
        if event.intent in state.choices:
            return Answer("value", event.intent)
        words = event.text.lower()
        for choice in state.choices:
            label = labels.get(choice, choice.replace("_", " ")).lower()
            if choice.replace("_", " ") in words or label in words:
                return Answer("value", choice)
        for word in words.replace(",", " ").split():
            if word in _ORDINALS and len(state.choices) == 2:
                return Answer("value", state.choices[_ORDINALS[word]])
    if digits in state.dtmf:  # "one", "press two"
        return Answer("value", state.dtmf[digits])
    if digits and "digits" in state.on and (state.length is None or len(digits) == state.length):
        return Answer("value", "digits", options=(digits,))
    return NO_MATCH


def read_answer(event: Understood | DtmfPressed, state: StateSpec, settings: SettingsSpec,
                known_intents: set[str], labels: dict[str, str],
                actionable: set[str] | None = None) -> Answer:
    kind = state.expect
    if kind == "intent":
        return read_intent(event, state.dtmf, settings, known_intents, actionable)
    if kind == "yesno":
        return read_yesno(event, state.dtmf)
    if kind == "choice":
        return read_choice(event, state, labels)
    if kind == "free":
        text = event.text.strip() if isinstance(event, Understood) else event.digits
        return Answer("value", text) if text else NO_MATCH
    digits = event_digits(event)
    if kind == "csat":
        return Answer("value", digits) if len(digits) == 1 and "1" <= digits <= "5" else NO_MATCH
    if state.length is not None and len(digits) != state.length:
        return NO_MATCH
    return Answer("value", digits) if digits else NO_MATCH
