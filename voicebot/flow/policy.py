"""The escalation policy: when the bot stops trying and hands the caller to a person.

Fires on a strongly negative turn, N negative turns in a row, N failures in a row (no-match or
no-input), too many failed ID/PIN answers, or no resolution within a set time. Counts only; the engine acts."""

from __future__ import annotations

from voicebot.flow.schema import EscalationSpec


class EscalationPolicy:
    def __init__(self, spec: EscalationSpec) -> None:
        self.spec = spec
        self.trajectory: list[float] = []
        self.negatives_in_a_row = 0
        self.failures_in_a_row = 0
        self.failures_total = 0
        self.wrong_pins = 0

    def observe_sentiment(self, label: str, score: float) -> str | None:
        """Record one caller turn's sentiment; 'negative_sentiment' when escalation should fire."""
        self.trajectory.append(round(score, 3))
        negative = label == "negative"  # the NLU calibrated its label; a mildly low score is not upset
        self.negatives_in_a_row = self.negatives_in_a_row + 1 if negative else 0
        if score <= self.spec.strong_negative or self.negatives_in_a_row >= self.spec.negative_in_a_row:
            return "negative_sentiment"
        return None

    @property
    def last_turn_negative(self) -> bool:
        return self.negatives_in_a_row > 0

    def failure(self) -> str | None:
        """One no-match or no-input; 'repeated_failures' once too many came in a row."""
        self.failures_in_a_row += 1
        self.failures_total += 1
        return "repeated_failures" if self.failures_in_a_row >= self.spec.max_failures else None

    def success(self) -> None:
        self.failures_in_a_row = 0

    def wrong_pin(self) -> str | None:
        """One failed ID/PIN answer (wrong, unknown or unusable); counted apart from the in-a-row
        failures because a caller who keeps guessing must stop even between good answers."""
        self.wrong_pins += 1
        return "repeated_failures" if self.wrong_pins >= self.spec.max_pin_attempts else None

    def timed_out(self, elapsed_seconds: float, resolved: bool) -> str | None:
        if not resolved and elapsed_seconds >= self.spec.max_unresolved_seconds:
            return "timeout"
        return None
