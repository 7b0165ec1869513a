"""A caller who says they have already waited ("I was on hold for an hour", "I've been waiting
forty minutes") is not told about another wait as if it were news: routing says sorry once, gives
them the flow's `settings.waited_priority`, and where their queue offers callbacks
(`callback_over_seconds` set) offers one whenever they would wait at all, in words that do not
announce the wait (`messages.callback_offer_waited`). A mixin of CallEngine."""

from __future__ import annotations

import re
from dataclasses import replace

from voicebot.events import Understood
from voicebot.flow.actions import Say
from voicebot.flow.inputs import spotted_state
from voicebot.flow.routing import RouteDecision

# "waiting forty minutes", "waited for over an hour", "holding for ages": a wait on the phone is
# counted in minutes or hours; "waiting three weeks for a refund" is not one, nor are the bank's
# "opening hours". "… for half an hour already" says it without the verb (and survives a misheard
# one: "I'd be on those for half an hour already").
_HOURS = r"(?<!opening )(?<!business )(?<!office )(?<!branch )(?<!your )(?<!our )(?<!the )hours?"
_PHONE_WAIT = re.compile(rf"\b(wait|waited|waiting|hold|holding|held)\b(\W+[a-z0-9']+){{0,5}}?\W+"
                         rf"(minutes?|{_HOURS}|ages|forever)\b"
                         rf"|\b(for|over|nearly|almost)\s+([a-z0-9']+\s+){{0,3}}(minutes|{_HOURS}|ages)\W+already\b",
                         re.IGNORECASE)


def said_waited(text: str, phrases: list[str]) -> bool:
    """The caller says they already waited on the phone: one of the flow's `waited_phrases`
    ("on hold", "cut off"), or a wait given in minutes or hours."""
    return bool(_PHONE_WAIT.search(text)) or spotted_state(text, {"waited": phrases}, gap=1) is not None


class WaitedMixin:
    waited = False

    def _note_wait(self, event: object) -> None:
        if isinstance(event, Understood) and not self.waited:
            self.waited = said_waited(event.text, self.spec.waited_phrases)

    def _priority(self, escalated: bool) -> str:
        if self.record.vip:
            return "vip"
        if escalated:
            return "high"
        return self.spec.settings.waited_priority if self.waited else "normal"

    def _after_waiting(self, decision: RouteDecision) -> RouteDecision:
        """Sorry for the wait before a person or a line; a line becomes a callback offer where
        the queue has callbacks."""
        if not self.waited or decision.kind not in ("agent", "queued", "callback_offer"):
            return decision
        if self.spec.messages.waited_sorry:  # one apology: this one replaces "sorry about the trouble"
            self._out = [a for a in self._out if not (isinstance(a, Say) and a.text == self.spec.messages.sorry)]
            self._say(self.spec.messages.waited_sorry)
        if decision.kind == "queued" and self.spec.queues[decision.queue].callback_over_seconds is not None:
            return replace(decision, kind="callback_offer")
        return decision

    def _callback_offer_text(self, wait: str) -> str:
        if self.waited:
            return self.spec.messages.callback_offer_waited
        return self.spec.messages.callback_offer.format(wait=wait)
