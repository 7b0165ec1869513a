"""Which request the caller means: a clarifying question between two actionable intents, and a
person asked for about a topic. A mixin of CallEngine (it shares the engine's record, policy and
output)."""

from __future__ import annotations

import re

from voicebot.events import DtmfPressed, Understood
from voicebot.flow.actions import Expect
from voicebot.flow.inputs import asked_for_person, clarify_floor, ranked_intents, read_choice, read_intent
from voicebot.flow.schema import StateSpec
from voicebot.intents import OUT_OF_SCOPE

AGENT_INTENT = "speak_to_agent"
# a request this likely beside "a person, please" picks the specialist queue when the caller's words
# name it; one they do not name must be as likely as a clarifying question's alternative
# (`clarify_floor`): "operator" heard as "Offer acre." read loan_inquiry 0.17 and went to lending
TOPIC_MIN_SCORE = 0.1
# the words of intent_labels/intent_phrases that name no topic ("check your balance": balance does)
_PHRASE_WORDS = {"a", "an", "the", "your", "our", "my", "or", "and", "with", "to", "of", "about", "check",
                 "hear", "ask", "make", "making", "speak", "speaking", "agent", "recent", "change"}


class RequestsMixin:
    def _person_requested(self, event: Understood | DtmfPressed, state: StateSpec) -> bool:
        """"Can I talk to someone about a loan?", "an agent for my card", "no, I want an agent":
        a caller who asks for a person about a topic goes to that topic's queue (reason
        caller_request), whatever the prompt asked; without a topic, to the flow's agent state."""
        if not isinstance(event, Understood) or AGENT_INTENT not in self.spec.requests:
            return False
        ranked = ranked_intents(event)
        agent_score = dict(ranked).get(AGENT_INTENT, 0.0)
        if not (asked_for_person(event.text) or agent_score >= TOPIC_MIN_SCORE * 2):
            return False
        # a topic must also beat "none of the above": "I want a human" read as speak_to_agent 0.57,
        # out_of_scope 0.16, dispute_charge 0.135 names no topic, and goes to the general queue
        no_topic = dict(ranked).get(OUT_OF_SCOPE, 0.0)
        # a reading the caller's words name comes first: "someone about my credit card" read as
        # pay_bill 0.33, dispute_charge 0.23, activate_card 0.12 is about a card
        named = self._topics_named(event.text)
        unnamed_floor = max(TOPIC_MIN_SCORE, clarify_floor(self.spec.settings))
        for topic, score in sorted(ranked, key=lambda kv: (kv[0] not in named, -kv[1])):
            queue = self.flow.intent_queue(topic)
            floor = TOPIC_MIN_SCORE if topic in named else unnamed_floor
            if topic not in (AGENT_INTENT, *state.on) and topic in self.spec.requests \
                    and score >= floor and score > no_topic and queue:
                self.intent = topic
                self.record.intents.append(topic)
                self.policy.success()
                self._route(queue, "caller_request", escalated=False)
                return True
        if asked_for_person(event.text):  # "no, I want an agent", however unsure the NLU is
            self.policy.success()
            # "can I just speak to an agent about it" asked for the customer number of a lost card:
            # the request the bot is verifying the caller for is the topic
            verifying = self._pending is not None and self._pending.kind in ("auth_id", "auth_pin")
            queue = self.flow.intent_queue(self.intent) if verifying else None
            if queue:
                self._route(queue, "caller_request", escalated=False)
            else:
                self._goto_intent(AGENT_INTENT, state)
            return True
        return False

    def _topics_named(self, text: str) -> set[str]:
        """Request intents whose label or clarifying phrase shares a word with what was said
        ("card" → activate_card, report_lost_card), beyond the words every phrase is made of."""
        said = {w.rstrip("s") for w in re.findall(r"[a-z']+", text.lower())}
        named = set()
        for intent in self.spec.requests:
            words = f"{self.spec.intent_labels.get(intent, '')} {self.spec.intent_phrases.get(intent, '')}"
            if said & ({w.rstrip("s") for w in re.findall(r"[a-z']+", words.lower())} - _PHRASE_WORDS):
                named.add(intent)
        return named

    def _clarify(self, options: tuple[str, ...], again: bool = False) -> None:
        """"Would you like to check your balance, or hear your recent transactions?" """
        first, second = (self.spec.phrase_for(o) for o in options)
        template = self.spec.messages.clarify_again if again else self.spec.messages.clarify
        text = template.format(first=first, second=second)
        self._ask_sub("clarify_again" if again else "clarify", text,
                      Expect("choice", choices=options), options)

    def _clarify_answer(self, event: Understood | DtmfPressed, pending: Pending) -> None:
        """One of the two, by key, name or intent. A first unclear answer hears the question once
        more; a second takes whichever of the two this answer (or else the first) made likelier."""
        menu = StateSpec(ask=pending.ask.text, expect="choice", choices=list(pending.options),
                         dtmf={"1": pending.options[0], "2": pending.options[1]})
        answer = read_choice(event, menu, self.spec.intent_labels)
        self.policy.success()
        state = self.spec.states[self.state_name]
        if answer.kind != "none":  # an option the NLU read (not a key) is only as sure as that reading
            heard = isinstance(event, Understood) and event.intent == answer.value
            return self._goto_intent(answer.value, state, event.confidence if heard else None)
        if isinstance(event, Understood):
            # neither of the two but a request the NLU is as sure of as it must be to override a
            # yes/no ("yes, what's my balance" asked "branch hours, or a transfer?"), or a person:
            # the caller says what they want. A garbled answer read as a request at 0.55 is not that.
            if self._person_requested(event, state):
                return None
            request = read_intent(event, {}, self.spec.settings, set(self.spec.requests))
            if request.kind == "intent" and event.confidence >= self.spec.settings.request_over_yesno:
                return self._goto_intent(request.value, state, event.confidence, event)
        if pending.kind == "clarify":
            return self._clarify(pending.options, again=True)
        scores = dict(ranked_intents(event)) if isinstance(event, Understood) else {}
        likelier = max(pending.options, key=lambda o: (scores.get(o, 0.0), o == pending.options[0]))
        self._goto_intent(likelier, state, reading=0.0)  # a guess: a change to the account is confirmed
