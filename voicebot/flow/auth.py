"""Authentication sub-dialogue: customer ID, then PIN, each its own prompt, spoken or keyed.
A mixin of CallEngine. The digits are redacted from the turn and kept only in memory for the call.

Guessing is bounded twice: in one call, `max_pin_attempts` failed answers (a wrong PIN, an unknown
number, or an answer that is not the right number of digits) escalate with repeated_failures;
after a mismatch the customer number is asked again too when it was spoken (the recogniser may
have misheard it; digits right within one re-prompt rose from 0.70 to 0.75 on the dev set of
scripts/bench_digits.py), after every second one when it was keyed;
across calls, wrong PINs per customer number are kept (hashed) and after `lockout_failures` within
`lockout_minutes` the number is locked and the caller goes to a person. An unknown number and a
wrong PIN get the same reply, after the PIN, so nobody learns which numbers exist. A caller who
takes the number back at the PIN prompt ("sorry, my customer number was wrong", or the eight
digits again) is asked for it, or has it taken, anew."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from voicebot.events import DtmfPressed, NoInput, Understood
from voicebot.flow.actions import Expect
from voicebot.flow.inputs import event_digits, spotted_state
from voicebot.flow.speech import number_words
from voicebot.numparse import awaits_rest


class AuthMixin:
    def _ask_customer_id(self, prefix: str = "", timeout: float | None = None) -> None:
        auth = self.spec.authentication
        text = f"{prefix} {auth.id_reprompt}" if prefix else auth.id_prompt
        self._ask_sub("auth_id", text, Expect("digits", length=auth.id_length), timeout=timeout)

    def _ask_pin(self, prefix: str = "", timeout: float | None = None) -> None:
        auth = self.spec.authentication
        text = f"{prefix} {auth.pin_reprompt}" if prefix else auth.pin_prompt
        self._ask_sub("auth_pin", text, Expect("digits", length=auth.pin_length), timeout=timeout)

    def _holding_on(self, event: Understood | DtmfPressed | NoInput, reask) -> bool:
        """"Hang on, let me find my card": no attempt at the number, so not a failed one (the
        attempt limit is for guesses). The prompt is asked again with `hold_seconds` to answer;
        only the in-a-row failure count bounds how often."""
        auth = self.spec.authentication
        if not isinstance(event, Understood) or not spotted_state(event.text, {"hold": auth.hold_phrases}, gap=1):
            return False
        reason = self.policy.failure()
        self.record.failures = self.policy.failures_total
        if reason:
            self.escalate(reason)
        else:
            reask(auth.take_your_time, timeout=auth.hold_seconds)
        return True

    def _auth_failed(self, reask, prefix: str) -> None:
        """One failed answer at an ID/PIN prompt: ask again, or escalate after the last try."""
        self.policy.failure()
        reason = self.policy.wrong_pin()
        self.record.failures = self.policy.failures_total
        if reason:
            return self.escalate(reason)
        reask(prefix)

    def _secret_digits(self, event: Understood | DtmfPressed | NoInput, length: int,
                       reask) -> str | None:
        """The digits of an ID/PIN answer (remembered for masking), or None while waiting for the
        rest of a number said in groups, or after re-asking. A spoken group of at most half the
        digits ("one two three four" … "five six seven eight") is kept and the prompt listens on
        for the rest, expecting only the digits still missing; silence after it ends the answer.
        (A longer short answer is a misheard number: it is asked again at once.)"""
        fresh = "" if isinstance(event, NoInput) else event_digits(event)
        # a whole answer after a group ("one" heard, then the number keyed) starts over: joined
        # to the group it would be a wrong length
        digits = fresh if len(fresh) == length else self._digit_prefix + fresh
        self._digit_prefix = ""
        if digits:
            self._secrets.add(digits)
        if len(digits) == length:
            return digits
        if isinstance(event, Understood) and fresh and awaits_rest(event.text, digits, length):
            self._digit_prefix = digits
            self.expecting = replace(self.expecting, length=length - len(digits))
            return None
        if not digits and self._holding_on(event, reask):
            return None
        # no digits at all ("sorry, what?"): not a number of the wrong length
        self._auth_failed(reask, f"Sorry, that should be {number_words(length)} digits." if digits
                          else self.spec.messages.no_match)
        return None

    def _auth_id_answer(self, event: Understood | DtmfPressed) -> None:
        auth = self.spec.authentication
        digits = self._secret_digits(event, auth.id_length, self._ask_customer_id)
        if digits is None:
            return
        self.policy.success()
        self._id_spoken = not isinstance(event, DtmfPressed)
        self._candidate_id = digits  # known or not, the PIN comes next (no enumeration)
        self._ask_pin()

    def _id_taken_back(self, event: Understood | DtmfPressed | NoInput) -> bool:
        """At the PIN prompt: "my customer number was wrong" asks for the number again, and an
        answer of the number's length (not the PIN's) is taken as the corrected number. Both say
        nothing about whether a number exists; at most max_pin_attempts per call, after which
        the answer counts as an unusable PIN."""
        auth = self.spec.authentication
        if isinstance(event, NoInput) or self._digit_prefix \
                or self._id_corrections >= self.spec.escalation.max_pin_attempts:
            return False
        digits = event_digits(event)
        renumbered = len(digits) == auth.id_length != auth.pin_length
        if not renumbered and (digits or isinstance(event, DtmfPressed)
                               or not spotted_state(event.text, {"id": auth.correct_id_phrases}, gap=1)):
            return False
        self._id_corrections += 1
        if not renumbered:
            self._ask_customer_id(auth.id_again)
            return True
        self._secrets.add(digits)
        self._id_spoken, self._candidate_id = isinstance(event, Understood), digits
        self._ask_pin(auth.id_again)
        return True

    def _forgotten(self, event: Understood) -> bool:
        """"I've forgotten my PIN" at the customer number or PIN prompt: a person of the request
        being verified (else the default queue) takes over; not a failed attempt."""
        auth = self.spec.authentication
        queue = self.flow.escalation_queue(self.intent)
        if queue is None or not spotted_state(event.text, {"forgotten": auth.forgotten_phrases}):
            return False  # a flow without queues re-asks: it has nobody to check the caller
        self.policy.success()
        self._say(auth.forgotten)
        self._route(queue, "routing", escalated=False)
        return True

    def _auth_pin_answer(self, event: Understood | DtmfPressed) -> None:
        auth, limits = self.spec.authentication, self.spec.escalation
        digits = self._secret_digits(event, auth.pin_length, self._ask_pin)
        if digits is None:
            return
        candidate = self._candidate_id
        window_start = self.now - timedelta(minutes=limits.lockout_minutes)
        if self.lockout.failures_since(candidate, window_start) >= limits.lockout_failures:
            self._say(auth.locked)  # checked before the PIN: a locked number admits no more guesses
            return self.escalate("pin_lockout")
        if not self.store.verify_pin(candidate, digits):  # False for unknown numbers as well
            self.lockout.record_failure(candidate, self.now)
            if self.lockout.failures_since(candidate, window_start) >= limits.lockout_failures:
                self._say(auth.locked)
                return self.escalate("pin_lockout")
            self._pin_mismatches += 1
            self.refused = True
            every = auth.restart_after_spoken_mismatches if self._id_spoken else auth.restart_after_mismatches
            if every and self._pin_mismatches % every == 0:  # maybe the number was misheard
                return self._auth_failed(self._ask_customer_id, f"{auth.mismatch} {auth.restart}")
            return self._auth_failed(self._ask_pin, auth.mismatch)
        self.policy.success()
        self.lockout.clear(candidate)
        customer = self.store.get_customer(candidate)
        self._recognise(customer)
        self.authenticated = self.record.authenticated = True
        self.record.customer_id = customer.customer_id
        self._say(self.render(auth.verified))
        target, self._after_auth = self._after_auth, None
        self.enter(target)
