"""Each turn into the call record: what the caller said (masked where it holds an ID or PIN
heard this call, or any long digit run), what the bot answered, and the store's writes of it — the
turn, and the whole record once the call is done — made at once, or held while `hold_records`
(the Session sets it) until `flush_records`, after the answer is on its way to the caller. A mixin
of CallEngine."""

from __future__ import annotations

import logging

from voicebot.events import DtmfPressed, NoInput, Understood
from voicebot.flow.actions import Action, Ask, Say
from voicebot.flow.record import MASK, Turn
from voicebot.flow.speech import digits_in
from voicebot.numparse import mask_digit_strings

log = logging.getLogger(__name__)


class TurnsMixin:
    def flush_records(self) -> None:
        """Write what the turns so far recorded and held (hold_records), in order."""
        writes, self._unwritten = self._unwritten, []
        for write, args in writes:
            write(*args)

    def redact_text(self, text: str) -> str:
        heard = digits_in(text)
        if any(secret in heard for secret in self._secrets):
            return MASK
        return mask_digit_strings(text, MASK)  # long digit runs are never worth keeping

    def _new_turn(self, event: Understood | DtmfPressed | NoInput) -> Turn:
        turn = Turn(state=self.state_name, at_seconds=self.elapsed)
        if isinstance(event, Understood):
            turn.caller_text = event.text
            turn.intent, turn.confidence = event.intent, round(event.confidence, 3)
            turn.sentiment, turn.sentiment_score = event.sentiment, round(event.sentiment_score, 3)
            turn.entities = dict(event.entities)
        elif isinstance(event, DtmfPressed):
            turn.dtmf = event.digits
        return turn

    def _close_turn(self, turn: Turn) -> list[Action]:
        turn.caller_text = self.redact_text(turn.caller_text)
        if turn.dtmf and turn.dtmf != MASK:
            turn.dtmf = self.redact_text(turn.dtmf)
        if "digits" in turn.entities and turn.entities["digits"] != MASK:
            turn.entities["digits"] = self.redact_text(str(turn.entities["digits"]))
        turn.bot_text = " ".join(a.text for a in self._out if isinstance(a, (Say, Ask)))
        rec = self.record
        rec.turns.append(turn)
        self._unwritten.append((self.store.add_turn, (rec.call_id, len(rec.turns) - 1, turn.to_dict())))
        log.debug("call %s turn %d in %s: intent=%s", rec.call_id, len(rec.turns) - 1,
                  turn.state, turn.intent)
        if self.done:
            rec.sentiment_trajectory = list(self.policy.trajectory)
            rec.failures = self.policy.failures_total
            self._secrets.clear()
            self._unwritten.append((self.store.finish_call, (rec.to_dict(),)))
        if not self.hold_records:
            self.flush_records()
        out, self._out = self._out, []
        return out
