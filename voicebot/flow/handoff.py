"""Handing the call to people: routing to a queue, escalation, callback offers and voicemail.
A mixin of CallEngine (it shares the engine's record, store and output)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from voicebot.events import DtmfPressed, NoInput, Understood
from voicebot.flow.actions import Expect, RecordVoicemail, Transfer
from voicebot.flow.inputs import read_yesno
from voicebot.flow.routing import Caller, RouteDecision
from voicebot.flow.schema import TransferSpec
from voicebot.flow.speech import say_wait
from voicebot.store.protocols import StoreUnavailable


class HandoffMixin:
    def escalate(self, reason: str) -> None:
        """The policy fired: go to the queue of the caller's request, else the default queue."""
        queue = self.flow.escalation_queue(self.intent)
        if queue is None:  # a flow without queues: take a message instead
            self.record.outcome, self.record.reason = "escalated", reason
            self.record.priority = "vip" if self.record.vip else "high"
            return self.offer_voicemail(None)
        self._route(queue, reason, escalated=True)

    def _transfer_state(self, transfer: TransferSpec) -> None:
        if transfer.queue:
            return self._route(transfer.queue, transfer.reason, escalated=False)
        kind = next(k for k in ("agent", "extension", "external") if getattr(transfer, k))
        target = self.render(getattr(transfer, kind))
        self.record.outcome, self.record.reason = "transferred", transfer.reason
        self.record.disposition = kind
        self.record.agent = target if kind == "agent" else None
        self._out.append(Transfer(queue=None, target=target, target_kind=kind,
                                  priority=self.record.priority, reason=transfer.reason,
                                  agent=self.record.agent))
        self._end()

    def _route(self, queue: str, reason: str, escalated: bool, decision: RouteDecision | None = None) -> None:
        """`decision`: where the call goes, made without the store (flow/outage.py); else routed
        with the agents' live states and claimed in the store."""
        rec = self.record
        rec.priority = self._priority(escalated)
        rec.outcome = "escalated" if escalated else "transferred"
        rec.reason = reason
        if decision is None:
            language = self.customer.language if self.customer else "en"
            min_tier = self.spec.escalation.senior_tier if escalated else None
            decision = self._claimed_route(queue, Caller(rec.priority, language), min_tier)
        decision = self._after_waiting(decision)  # a caller who already waited hears no new wait as news
        rec.queue = decision.queue
        self._decision = decision
        if decision.kind in ("agent", "queued"):
            return self._connect(decision, escalated)
        if decision.kind == "callback_offer":
            text = self._callback_offer_text(say_wait(decision.estimated_wait))
            return self._ask_sub("callback_offer", text, Expect("yesno"))
        mode = decision.after_hours if decision.kind == "after_hours" else "voicemail"
        if mode == "callback":
            return self._ask_sub("callback_offer", self.spec.messages.after_hours_callback,
                                 Expect("yesno"))
        if mode == "voicemail":
            return self.offer_voicemail(decision.queue)
        rec.disposition = "after_hours"
        self._say(self.spec.messages.after_hours)
        self._end()

    def _claimed_route(self, queue: str, caller: Caller, min_tier: int | None) -> RouteDecision:
        """Route, then claim the chosen agent atomically in the store; an agent another call (or
        worker) took meanwhile is skipped and the next one tried."""
        taken: set[str] = set()
        while True:
            decision = self.flow.router.route(
                queue, caller, self.now, min_tier, live=self.store.agent_states(),
                waiting_now=len(self.store.waiting([queue])), counter=self.store.next_counter,
                exclude=frozenset(taken))
            if not decision.agent:
                return decision
            until = self.now + timedelta(seconds=self.spec.queues[decision.queue].handle_seconds)
            if self.store.claim_agent(decision.agent, self.now, until, self.record.call_id):
                return decision
            taken.add(decision.agent)

    def _connect(self, decision: RouteDecision, escalated: bool) -> None:
        msgs = self.spec.messages
        label = self.spec.queues[decision.queue].label or decision.queue
        self._say((msgs.escalate if escalated else msgs.transfer).format(queue=label))
        self.record.agent, self.record.disposition = decision.agent, decision.kind
        if decision.kind == "queued":  # waits in the store's queue until an agent takes it
            decision = self._enqueue(decision)
        if decision.kind == "queued" and decision.position is not None:  # None: the store could not say
            self._say(msgs.queue_position.format(position=decision.position,
                                                 wait=say_wait(decision.estimated_wait)))
        self._out.append(Transfer(queue=decision.queue, target=decision.agent or decision.queue,
                                  target_kind="agent" if decision.agent else "queue",
                                  priority=self.record.priority, reason=self.record.reason,
                                  agent=decision.agent, position=decision.position,
                                  estimated_wait=decision.estimated_wait))
        self._end()

    def _enqueue(self, decision: RouteDecision) -> RouteDecision:
        """Into the store's queue. A caller whose place was lost with a worker (the line dropped
        while they waited) and who calls again soon gets that place back, and hears so."""
        rec = self.record
        joined = self.store.enqueue({"call_id": rec.call_id, "queue": decision.queue, "priority": rec.priority,
                                     "reason": rec.reason, "enqueued_at": self.now, "caller_id": rec.caller_id,
                                     "rejoin_seconds": self.spec.settings.queue_rejoin_minutes * 60})
        if joined is None:  # spooled: the database is down, it will take the entry when it is back
            return decision
        try:
            place = self.store.kept_place(rec.call_id)
        except StoreUnavailable:  # the caller is in line; only a kept place would go unsaid
            return decision
        if place is None:
            return decision
        self._say(self.spec.messages.queue_place_kept)
        wait = decision.estimated_wait
        if wait is not None and decision.position:  # the estimate grows with the place in line
            wait = wait * place / decision.position
        return replace(decision, position=place, estimated_wait=wait)

    def _callback_answer(self, event: Understood | DtmfPressed | NoInput) -> None:
        answer = None if isinstance(event, NoInput) else read_yesno(event, {}).value
        decision = self._decision
        if answer == "yes":
            self._task("callback", decision.queue, "")
            self.record.disposition = "callback"
            self._say(self.spec.messages.callback_booked)
            return self._end()
        if decision.kind == "callback_offer":  # declined: wait in line after all
            return self._connect(RouteDecision("queued", decision.queue, position=decision.position,
                                               estimated_wait=decision.estimated_wait),
                                 self.record.outcome == "escalated")
        self.record.disposition = "after_hours"
        self._say(self.spec.messages.after_hours)
        self._end()

    def offer_voicemail(self, queue: str | None) -> None:
        self._voicemail_queue = queue
        self._say(self.spec.messages.voicemail_offer)
        self._out.append(RecordVoicemail(max_seconds=self.spec.settings.voicemail_seconds))
        self._set_pending("voicemail", Expect("free"))

    def _voicemail_answer(self, event: Understood | DtmfPressed | NoInput) -> None:
        text = event.text.strip() if isinstance(event, Understood) else ""
        if text:
            self._task("voicemail", self._voicemail_queue, text, event.entities.get("recording"))
            self._say(self.spec.messages.voicemail_saved)
        self.record.disposition = "voicemail" if text else "voicemail_empty"
        state = self.spec.states.get(self.state_name)
        if state and state.action == "voicemail" and state.next:
            return self.enter(state.next)
        self._end()

    def _task(self, kind: str, queue: str | None, text: str, recording: str | None = None) -> None:
        """A callback task for an agent, with the caller's number (voicemail text and audio)."""
        self.store.add_task({"kind": kind, "caller_id": self.record.caller_id,
                             "call_id": self.record.call_id, "queue": queue,
                             "text": self.redact_text(text), "recording": recording,
                             "created_at": self.now.isoformat()})
