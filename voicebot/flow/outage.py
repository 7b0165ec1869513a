"""A store operation the call needs fails mid-turn (the database unreachable, locked past its busy
timeout, refusing): the caller is never left in silence. The bot says so in the flow's words
(`messages.system_unavailable`: "I'm sorry, I can't reach our account system right now.") and
hands the call to a person of the flow's default queue, outcome `escalated`, reason
`system_unavailable`, with what the call has (its intents and transcript in the record; the PIN
never left memory). The hand-over itself reads nothing from the store: the queue comes from the
flow, its hours and staffing from the roster, no agent is claimed (that needs the store) and no
place or wait is announced (the store knows the line); the queue entry, like the call's record,
is spooled while the database is down (voicebot.store.spool) and goes in when it is back.
One warning line names the store operation and the database error's class, nothing else
(`warn_store_failed`, also the SIP worker's when a caller waiting in its line holds on).
A mixin of CallEngine."""

from __future__ import annotations

import logging

from voicebot.flow.actions import Say
from voicebot.flow.routing import Caller, RouteDecision
from voicebot.store.protocols import StoreUnavailable

log = logging.getLogger(__name__)
REASON = "system_unavailable"


def warn_store_failed(call_id: str, exc: StoreUnavailable, consequence: str, logger: logging.Logger = log) -> None:
    """One line: the call, the operation and the error's class (no values: no customer data, no
    URL), and what the call does about it in the words of whoever says it (`consequence`)."""
    logger.warning("call %s: store operation %s failed (%s): %s", call_id, exc.operation, exc.error, consequence)


class OutageMixin:
    def _store_failed(self, exc: StoreUnavailable) -> None:
        rec = self.record
        warn_store_failed(rec.call_id, exc, f"the caller is handed to a person ({REASON})")
        # what was said before the failure stays (it was true); a question or hand-over half made goes
        self._out = [a for a in self._out if isinstance(a, Say)]
        self._say(self.spec.messages.system_unavailable)
        rec.agent = rec.disposition = None
        queue = self.flow.escalation_queue(None)
        if queue is None:  # a flow without queues takes a message, as for any escalation
            rec.outcome, rec.reason = "escalated", REASON
            rec.priority = self._priority(escalated=True)
            return self.offer_voicemail(None)
        language = self.customer.language if self.customer else "en"
        decision = self.flow.router.route(queue, Caller(self._priority(escalated=True), language), self.now)
        if decision.kind in ("agent", "queued", "callback_offer"):  # an agent's claim, the line: in the store
            decision = RouteDecision("queued", decision.queue)
        self._route(queue, REASON, escalated=True, decision=decision)
