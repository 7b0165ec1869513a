"""Authentication sub-dialogue: customer ID, then PIN, each its own prompt, spoken or keyed.
A mixin of CallEngine. The digits are redacted from the turn and kept only in memory for the call."""

from __future__ import annotations

from voicebot.events import DtmfPressed, Understood
from voicebot.flow.actions import Expect
from voicebot.flow.inputs import event_digits
from voicebot.flow.speech import number_words


class AuthMixin:
    def _ask_customer_id(self, prefix: str = "") -> None:
        auth = self.spec.authentication
        self._ask_sub("auth_id", f"{prefix} {auth.id_prompt}".strip(),
                      Expect("digits", length=auth.id_length))

    def _ask_pin(self, prefix: str = "") -> None:
        auth = self.spec.authentication
        self._ask_sub("auth_pin", f"{prefix} {auth.pin_prompt}".strip(),
                      Expect("digits", length=auth.pin_length))

    def _secret_digits(self, event: Understood | DtmfPressed, length: int, reask) -> str | None:
        """The digits of an ID/PIN answer (remembered for masking), or None after re-asking."""
        digits = event_digits(event)
        if digits:
            self._secrets.add(digits)
        if len(digits) == length:
            return digits
        reason = self.policy.failure()
        if reason:
            self.escalate(reason)
        else:
            reask(f"Sorry, that should be {number_words(length)} digits.")
        return None

    def _auth_id_answer(self, event: Understood | DtmfPressed) -> None:
        auth = self.spec.authentication
        digits = self._secret_digits(event, auth.id_length, self._ask_customer_id)
        if digits is None:
            return
        if self.store.get_customer(digits) is None:
            reason = self.policy.failure()
            return self.escalate(reason) if reason else self._ask_customer_id(auth.unknown_id)
        self.policy.success()
        self._candidate_id = digits
        self._ask_pin()

    def _auth_pin_answer(self, event: Understood | DtmfPressed) -> None:
        auth = self.spec.authentication
        digits = self._secret_digits(event, auth.pin_length, self._ask_pin)
        if digits is None:
            return
        if not self.store.verify_pin(self._candidate_id, digits):
            reason = self.policy.wrong_pin()  # after the last allowed try the flow stops asking
            return self.escalate(reason) if reason else self._ask_pin(auth.wrong_pin)
        self.policy.success()
        customer = self.store.get_customer(self._candidate_id)
        self._recognise(customer)
        self.authenticated = self.record.authenticated = True
        self.record.customer_id = customer.customer_id
        self._say(self.render(auth.verified))
        target, self._after_auth = self._after_auth, None
        self.enter(target)
