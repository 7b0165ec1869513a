"""Requests that change something on the caller's account (block a card, activate one) are not
acted on from a marginal reading: "I have a question about my card" read as activate_card 0.55
must not activate a card. Below `settings.confirm_actions_below` the caller is asked first — which
of two requests when another one is also likely ("Would you like to activate a card, or dispute a
charge?"), else a yes/no ("Just to be sure: would you like to activate a card?"). A mixin of
CallEngine (it shares the engine's pending prompt, policy and output)."""

from __future__ import annotations

from voicebot.events import DtmfPressed, Understood
from voicebot.flow.actions import Expect
from voicebot.flow.inputs import Answer, clarify_floor, ranked_requests, read_intent, read_yesno
from voicebot.flow.schema import StateSpec
from voicebot.flow.selfservice import CHANGES_ACCOUNT


class ConfirmMixin:
    def changes_account(self, intent: str) -> bool:
        """The request's state (or the states it goes on to without asking) runs an action that
        changes the account."""
        target, seen = self.spec.requests.get(intent), set()
        while target and target not in seen:
            seen.add(target)
            state = self.spec.states[target]
            if state.action in CHANGES_ACCOUNT:
                return True
            if state.ask or state.transfer or state.hangup:
                return False
            target = state.next
        return False

    def _needs_confirming(self, intent: str, reading: float | None) -> bool:
        """`reading`: how sure the NLU was of the intent; None when the caller chose it outright
        (a key, a named option, a yes to the confirmation)."""
        return reading is not None and reading < self.spec.settings.confirm_actions_below \
            and self.changes_account(intent)

    def _confirm(self, intent: str, event: Understood | None) -> None:
        """Ask which of two when another request the flow acts on is also likely (at least a
        third of low_confidence, as for any clarifying question), else a yes/no about this one."""
        if isinstance(event, Understood):
            floor = clarify_floor(self.spec.settings)
            others = [i for i, score in ranked_requests(event, self.spec.requests) if i != intent and score >= floor]
            if others:
                return self._clarify((intent, others[0]))
        self._ask_sub("confirm", self.spec.messages.confirm_action.format(request=self.spec.phrase_for(intent)),
                      Expect("yesno"), (intent, self.state_name))

    def _confirm_answer(self, event: Understood | DtmfPressed, pending) -> None:
        """Yes: act. Another request instead ("no, it's about a payment I don't recognise"): that
        one, at low_confidence — the caller is correcting us. No: ask what they want."""
        intent, origin = pending.options
        state = self.spec.states[origin]
        if self._person_requested(event, state):
            return None
        answer = read_yesno(event, {})
        if isinstance(event, Understood):
            request = read_intent(event, {}, self.spec.settings, set(self.spec.requests))
            if request.kind == "intent" and request.value != intent and answer.value != "yes":
                self.policy.success()  # its own reading decides whether it needs confirming too
                return self._goto_intent(request.value, state, event.confidence, event)
            if request.kind == "intent" and event.confidence >= self.spec.settings.confirm_actions_below:
                answer = Answer("value", "yes")  # "activate my card, yes", said clearly this time
        if answer.kind == "none":
            return self._failed(self.spec.messages.no_match, "no_match")
        self.policy.success()
        if answer.value == "yes":
            return self._goto_intent(intent, state)
        self._ask_again(state, origin)

    def _ask_again(self, state: StateSpec, origin: str) -> None:
        """"No" to the confirmation: ask what the caller wants, at an intent prompt (the state the
        request was heard at, or where its "yes" leads when that was a yes/no question)."""
        name = origin if state.expect == "intent" else state.on.get("yes", origin)
        target = self.spec.states[name]
        self.state_name = name
        timeout = target.no_input_timeout or self.spec.settings.no_input_timeout
        self._ask_sub("state", self.spec.messages.confirm_declined,
                      Expect(target.expect, target.length, tuple(target.choices)), (), timeout, target.barge_in)
