"""CallEngine: one call's dialogue state. Given one caller event it returns the actions the Session
performs; it reads the flow, asks the store, writes the call record turn by turn, and never reads
the wall clock (time moves only by `advance`)."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

from voicebot.events import DtmfPressed, NoInput, Understood
from voicebot.flow.actions import Action, Ask, Expect, Hangup, Say, Transfer
from voicebot.flow.auth import AuthMixin
from voicebot.flow.clarify import RequestsMixin
from voicebot.flow.confirm import ConfirmMixin
from voicebot.flow.definition import Flow
from voicebot.flow.handoff import HandoffMixin
from voicebot.flow.inputs import (Answer, event_digits, goes_on_past_yes_no, read_answer, read_intent,
                                  spotted_state, unsure_request)
from voicebot.flow.outage import OutageMixin, warn_store_failed
from voicebot.flow.policy import EscalationPolicy
from voicebot.flow.record import CallRecord, Turn
from voicebot.flow.schema import StateSpec
from voicebot.flow.selfservice import run_action
from voicebot.flow.templates import reprompt_keys
from voicebot.flow.turns import TurnsMixin
from voicebot.flow.waited import WaitedMixin
from voicebot.store.lockout import lockout_for
from voicebot.store.protocols import Customer, Store, StoreUnavailable
from voicebot.store.webhook import with_crm_webhook

log = logging.getLogger(__name__)
Event = Understood | DtmfPressed | NoInput
_SUB_DIALOGUES_OWNING_NO_INPUT = ("callback_offer", "voicemail")
_MAX_CHAINED_STATES = 50  # states entered without asking anything: more means a loop


class _Vars(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Pending:
    """What the last Ask waits for: a flow state's prompt or a built-in sub-dialogue."""

    kind: str  # state | auth_id | auth_pin | clarify | confirm | callback_offer | voicemail
    ask: Ask | None
    options: tuple[str, ...] = ()
    prompt: str = ""  # the question without a re-prompt's "Sorry, …" (so it is never said twice)


class CallEngine(AuthMixin, HandoffMixin, RequestsMixin, ConfirmMixin, WaitedMixin, OutageMixin, TurnsMixin):
    def __init__(self, flow: Flow, store: Store, caller_id: str | None = None,
                 now: datetime | None = None, call_id: str | None = None) -> None:
        now = now or datetime.now(timezone.utc)  # only when the caller passes no time at all
        if now.tzinfo is None:
            raise ValueError("CallEngine needs a timezone-aware `now`")
        self.flow, self.spec = flow, flow.spec
        self.store = with_crm_webhook(store, self.spec.crm_webhook)
        self.now = now
        self.policy = EscalationPolicy(self.spec.escalation)
        self.record = CallRecord(call_id or uuid4().hex, caller_id, now, flow=self.spec.name)
        self.vars: dict[str, Any] = {}
        self.customer: Customer | None = None
        self.authenticated = False
        self.intent: str | None = None
        self.resolved = False
        self.done = False
        self.expecting = Expect()
        self.state_name = self.spec.start
        self._pending: Pending | None = None
        self._out: list[Action] = []
        self._secrets: set[str] = set()  # ID/PIN digits heard this call, to mask; never stored
        self._after_auth: str | None = None
        self._candidate_id: str | None = None
        self._decision = None
        self._voicemail_queue: str | None = None
        self.lockout = lockout_for(store)  # wrong PINs per customer number, across calls
        self._request_text = self._last_text = ""  # the caller's latest request, for actions
        # after an answer not taken at an intent prompt: the request it most likely was ("" none)
        self._missed = ""
        self._digit_prefix = ""  # the first group of an ID/PIN said in groups
        self._pin_mismatches = 0  # customer number + PIN pairs that did not match, this call
        self._id_spoken = False  # the customer number came by voice (it may have been misheard)
        self._id_corrections = 0  # customer numbers taken back at the PIN prompt, this call
        # the last answer was heard and turned down (a PIN that does not match), not missed: a
        # caller asked again tries what they mean next rather than repeating it (replay patience)
        self.refused = False
        self.hold_records = False  # True: record writes wait for flush_records() (after the answer)
        self._unwritten: list[tuple[Any, tuple]] = []

    # --- the API the Session calls -------------------------------------------------------
    def start(self) -> list[Action]:
        if self.record.caller_id:
            try:
                known = self.store.find_by_phone(self.record.caller_id)
            except StoreUnavailable as exc:  # a nicety: a turn that needs the store says it failed
                warn_store_failed(self.record.call_id, exc, "the caller is not recognised by number")
                known = None
            if known and self.spec.settings.greet_by_caller_id:
                self._recognise(known)
            elif known and known.vip:  # routing priority only: no name before the caller is verified
                self.record.vip, self.record.priority = True, "vip"
        self.store.start_call(self.record.header())
        turn = Turn(state=self.spec.start)
        try:
            self.enter(self.spec.start)
        except StoreUnavailable as exc:
            self._store_failed(exc)
        return self._close_turn(turn)

    def handle(self, event: Event) -> list[Action]:
        if self.done:
            return []
        turn = self._new_turn(event)
        self.refused = False
        self._last_text = event.text if isinstance(event, Understood) else ""
        self._note_wait(event)  # "I was on hold for an hour": routing will not announce a new wait as news
        pending = self._pending
        try:
            self._answer(event, pending)
        except StoreUnavailable as exc:  # the database failed mid-turn: never silence (flow/outage.py)
            self._store_failed(exc)
        if pending and pending.kind in ("auth_id", "auth_pin"):
            turn.redact()
        return self._close_turn(turn)

    def _answer(self, event: Event, pending: Pending | None) -> None:
        reason = None
        if isinstance(event, Understood):
            reason = self.policy.observe_sentiment(event.sentiment, event.sentiment_score)
        reason = reason or self.policy.timed_out(self.elapsed, self.resolved)
        leaving = self._leaving(event)
        if reason and not (pending and pending.kind in _SUB_DIALOGUES_OWNING_NO_INPUT) and not leaving:
            self._note_request(event)  # an angry "my transfer failed" escalates to payments
            self.escalate(reason)
        else:
            if isinstance(event, Understood) and self.policy.last_turn_negative and not leaving:
                self._say(self.spec.messages.sorry)
            self._dispatch(event, pending)

    def hangup(self) -> list[Action]:
        """The caller's audio ran out. Mid-flow that is abandonment, after an answer self-service."""
        if self.done:
            return []
        self._end("self_service" if self.resolved else "abandoned", hangup_action=False)
        return self._close_turn(Turn(state=self.state_name, at_seconds=self.elapsed))

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    @property
    def state(self) -> str:
        return self.state_name

    @property
    def elapsed(self) -> float:
        return (self.now - self.record.started_at).total_seconds()

    # --- dispatch ------------------------------------------------------------------------
    def _dispatch(self, event: Event, pending: Pending | None) -> None:
        kind = pending.kind if pending else "state"
        if kind == "callback_offer":
            return self._callback_answer(event)
        if kind == "voicemail":
            return self._voicemail_answer(event)
        if isinstance(event, NoInput) and self._digit_prefix:  # silence after a group of digits
            return self._auth_id_answer(event) if kind == "auth_id" else self._auth_pin_answer(event)
        if isinstance(event, NoInput):
            return self._failed(self.spec.messages.no_input, "no_input")
        if kind == "auth_pin" and self._id_taken_back(event):
            return  # before the global phrases: "I gave the wrong number" is not a wrong call
        if self._global_intent(event, pending):
            return
        state = self.spec.states[self.state_name]
        if kind in ("auth_id", "auth_pin") and isinstance(event, Understood) and not event_digits(event) \
                and (self._forgotten(event) or self._person_requested(event, state)):
            return  # "I don't remember it", "I'd rather talk to an agent" instead of a PIN
        if kind == "auth_id":
            return self._auth_id_answer(event)
        if kind == "auth_pin":
            return self._auth_pin_answer(event)
        if kind in ("clarify", "clarify_again"):
            return self._clarify_answer(event, pending)
        if kind == "confirm":
            return self._confirm_answer(event, pending)
        return self._state_answer(event, self.spec.states[self.state_name])

    def _global_intent(self, event: Event, pending: Pending | None) -> bool:
        """Goodbye (and any other global intent) works from every prompt, unless digits came;
        so do the flow's global phrases ("wrong number"). A global intent the prompt handles
        itself is left to it ("anything else?" → "bye" → survey)."""
        target = self._global_target(event, handled=self.spec.states[self.state_name].on)
        if target is None:
            return False
        self.enter(target)
        return True

    def _global_target(self, event: Event, handled: Collection[str] = ()) -> str | None:
        """The state a global phrase, or else a sure global intent not in `handled`, leads to from
        any prompt; None for anything else and for an answer that holds digits."""
        if not isinstance(event, Understood) or event_digits(event):
            return None
        spotted = spotted_state(event.text, self.spec.global_phrases)
        if spotted:
            return spotted
        if event.intent in self.spec.global_intents and event.intent not in handled \
                and event.confidence >= self.spec.settings.low_confidence:
            return self.spec.global_intents[event.intent]
        return None

    def _leaving(self, event: Event) -> bool:
        """The caller is ending the call ("sorry, wrong number", "I'll call back later, bye"): a
        goodbye or global phrase that leads to a state that hangs up. Put through to a person they
        did not ask for, however negative they sound, they would only hang up in the queue."""
        target = self._global_target(event)
        return target is not None and bool(self.spec.states[target].hangup)

    def _state_answer(self, event: Understood | DtmfPressed, state: StateSpec) -> None:
        if state.expect in ("intent", "yesno") and self._person_requested(event, state):
            return
        actionable = set(self.spec.requests) | set(state.on)
        answer = read_answer(event, state, self.spec.settings, self._known_intents(state),
                             self.spec.intent_labels, actionable=actionable)
        missed, self._missed = self._missed, ""
        if state.expect == "yesno" and isinstance(event, Understood):
            # "anything else?" → "yes, my balance": a clear new request wins over the yes/no
            request = read_intent(event, {}, self.spec.settings, actionable)
            sure = event.confidence >= self.spec.settings.request_over_yesno or goes_on_past_yes_no(event.text)
            if (request.kind == "intent" and sure) or answer.kind == "none":
                answer = request
        if answer.kind == "none" and state.expect == "intent":
            likeliest = unsure_request(event, actionable, self.spec.settings)
            if likeliest and likeliest == missed:  # the same unsure request twice: take it as a guess
                answer = Answer("intent", likeliest)
            else:
                self._missed = likeliest
        if answer.kind == "none":
            return self._failed(state.no_match or self.spec.messages.no_match, "no_match")
        self.policy.success()
        if answer.kind == "clarify":
            return self._clarify(answer.options)
        if answer.kind == "intent":  # a key is a choice; words are a reading, as sure as the NLU was
            reading = event.confidence if isinstance(event, Understood) else None
            if state.expect == "intent" and answer.value == missed and reading is not None:
                reading = 0.0  # sure only at a second try, so the words changed: a guess, as above
            return self._goto_intent(answer.value, state, reading, event)
        value = answer.value
        if state.expect == "csat":
            self.record.csat = int(value)
        if state.store_as:
            self.vars[state.store_as] = answer.options[0] if value == "digits" else value
        self.enter(state.on.get(value) or state.next)

    def _known_intents(self, state: StateSpec) -> set[str]:
        return set(state.on) | set(self.spec.requests) | set(self.spec.global_intents)

    def _note_request(self, event: Event) -> None:
        if isinstance(event, Understood) and event.intent in self.spec.requests \
                and event.confidence >= self.spec.settings.low_confidence:
            self.intent = event.intent
            self.record.intents.append(event.intent)

    def _goto_intent(self, intent: str, state: StateSpec, reading: float | None = None,
                     event: Event | None = None) -> None:
        """`reading`: the NLU's confidence when words chose the intent (None: a key, a named
        choice); a request that changes the account is confirmed first when it is marginal."""
        if self._needs_confirming(intent, reading):
            return self._confirm(intent, event if isinstance(event, Understood) else None)
        if intent in self.spec.requests:
            self.intent = intent
            self.record.intents.append(intent)
            self.vars.pop("card_kind", None)  # a new request: an earlier "which card?" is void
            self._request_text = self._last_text
        target = state.on.get(intent) or self.spec.requests.get(intent) \
            or self.spec.global_intents[intent]
        self.enter(target)

    def _failed(self, prefix: str, why: str) -> None:
        reason = self.policy.failure()
        self.record.failures = self.policy.failures_total
        log.info("call %s: %s in %s (%d in a row)", self.record.call_id, why, self.state_name,
                 self.policy.failures_in_a_row)
        if reason:
            return self.escalate(reason)
        ask, question = self._pending.ask, self._pending.prompt or self._pending.ask.text
        text = f"{prefix} {question}"
        menu = reprompt_keys(self.spec, self.spec.states[self.state_name], ask.expect.kind,
                             own=self._pending.kind == "state")
        self._ask_sub(self._pending.kind, f"{text} {menu}" if menu else text, ask.expect, self._pending.options,
                      ask.no_input_timeout, ask.barge_in, prompt=question)

    # --- states ----------------------------------------------------------------------------
    def enter(self, name: str, depth: int = 0) -> None:
        if depth > _MAX_CHAINED_STATES:
            raise RuntimeError(f"flow {self.spec.name!r} loops through {name!r} without asking")
        state = self.spec.states[name]
        self.state_name = name
        self._missed = ""
        if state.auth and not self.authenticated:
            self._after_auth = name
            return self._ask_customer_id()
        outcome = None
        if state.action and state.action not in ("voicemail", "hangup"):
            outcome = run_action(state, self.spec, self.store, self.record.customer_id,
                                 self.now, self.vars, said=self._request_text)
        text = state.say_known if state.say_known and self.customer else state.say
        if state.resolves:
            self.resolved = True
        if state.done:
            self.record.done.append(self.render(state.done))
        if text:
            self._say(self.render(text))
        if state.transfer:
            return self._transfer_state(state.transfer)
        if state.action == "voicemail":
            return self.offer_voicemail(None)
        if state.hangup or state.action == "hangup":
            return self._end()
        if state.ask:
            timeout = state.no_input_timeout or self.spec.settings.no_input_timeout
            expect = Expect(state.expect, state.length, tuple(state.choices))
            return self._ask_sub("state", self.render(state.ask), expect, (), timeout, state.barge_in)
        target = state.on.get(outcome) or state.next
        if target is None:  # an action outcome the flow did not map: end politely, don't crash
            log.warning("flow %s: state %r has no way on for outcome %r", self.spec.name, name, outcome)
            return self._end()
        self.enter(target, depth + 1)

    def render(self, template: str) -> str:
        done = self.record.done
        recap = self.spec.messages.recap.format(items=" and ".join(done)) + " " if done else ""
        return template.format_map(_Vars(self.vars, recap=recap))

    # --- output and bookkeeping -------------------------------------------------------------
    def _say(self, text: str) -> None:
        self._out.append(Say(text))

    def _ask_sub(self, kind: str, text: str, expect: Expect, options: tuple[str, ...] = (),
                 timeout: float | None = None, barge_in: bool = True, prompt: str | None = None) -> None:
        if kind in ("auth_id", "auth_pin"):  # customer data: kept out of the call recording
            expect = replace(expect, secret=True)
        ask = Ask(text, expect, timeout or self.spec.settings.no_input_timeout, barge_in)
        self._out.append(ask)
        self._pending = Pending(kind, ask, options, prompt or text)
        self.expecting = expect

    def _set_pending(self, kind: str, expect: Expect) -> None:
        self._pending = Pending(kind, None)
        self.expecting = expect

    def _recognise(self, customer: Customer) -> None:
        self.customer = customer
        self.record.customer_name = f"{customer.first_name} {customer.last_name}"
        self.record.vip = self.record.vip or customer.vip
        if self.record.vip:
            self.record.priority = "vip"
        self.vars["first_name"] = customer.first_name

    def _end(self, outcome: str | None = None, hangup_action: bool = True) -> None:
        rec = self.record
        # self_service: the bot answered a request itself and routed nothing; completed: it ended
        # with nothing answered or routed (a wrong number, a goodbye). Routing set its own outcome.
        rec.outcome = rec.outcome or outcome or ("self_service" if self.resolved else "completed")
        rec.ended_at = self.now
        self.done = True
        self._pending = None
        if hangup_action and not any(isinstance(a, Transfer) for a in self._out):
            self._out.append(Hangup(rec.outcome))
