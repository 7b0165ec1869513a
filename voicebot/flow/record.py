"""The call record: what was said, decided and done, in the JSON shape other tools rely on.

Redaction happens here, once: a turn that answered a PIN or customer-ID prompt keeps neither the
digits nor the caller's words ("****"), so they reach no store, log or transcript."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MASK = "****"


@dataclass
class Turn:
    caller_text: str = ""
    intent: str | None = None
    confidence: float | None = None
    sentiment: str | None = None
    sentiment_score: float | None = None
    entities: dict[str, Any] = field(default_factory=dict)
    dtmf: str | None = None
    bot_text: str = ""
    bot_interrupted: bool = False  # the caller talked over (or keyed through) this turn's prompts
    bot_played_ms: int | None = None  # how much of them the caller heard; None: nothing played yet
    state: str = ""
    at_seconds: float = 0.0

    def redact(self) -> None:
        """Mask the whole answer: it was a PIN or a customer ID."""
        self.caller_text = MASK if self.caller_text else ""
        self.dtmf = MASK if self.dtmf else None
        self.entities = {k: (MASK if k == "digits" else v) for k, v in self.entities.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "caller": {"text": self.caller_text, "intent": self.intent,
                       "confidence": self.confidence, "sentiment": self.sentiment,
                       "sentiment_score": self.sentiment_score, "entities": self.entities,
                       "dtmf": self.dtmf},
            "bot": {"text": self.bot_text, "interrupted": self.bot_interrupted,
                    "played_ms": self.bot_played_ms},
            "state": self.state,
            "at_seconds": round(self.at_seconds, 3),
        }


@dataclass
class CallRecord:
    call_id: str
    caller_id: str | None
    started_at: datetime
    flow: str = ""
    nlu_model: str | None = None  # the version of the intent model that heard the caller (voicebot.nlu.model_io)
    asr_model: str | None = None  # the recogniser that heard them: its version, else its backend's name
    turns: list[Turn] = field(default_factory=list)
    customer_id: str | None = None  # kept for the CRM link; never spoken or logged
    customer_name: str | None = None
    authenticated: bool = False
    vip: bool = False
    intents: list[str] = field(default_factory=list)
    outcome: str | None = None
    queue: str | None = None
    agent: str | None = None
    priority: str = "normal"
    reason: str | None = None
    disposition: str | None = None  # agent | queued | callback | voicemail | after_hours
    csat: int | None = None
    done: list[str] = field(default_factory=list)
    sentiment_trajectory: list[float] = field(default_factory=list)
    failures: int = 0
    ended_at: datetime | None = None

    @property
    def handle_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at).total_seconds(), 3)

    def header(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "caller_id": self.caller_id, "flow": self.flow,
                "nlu_model": self.nlu_model, "asr_model": self.asr_model, "started_at": self.started_at.isoformat()}

    def summary(self) -> str:
        """One or two plain sentences for an agent's screen or the CRM."""
        who = self.customer_name or (f"Caller {self.caller_id}" if self.caller_id else "An unknown caller")
        sentence = f"{who}{' (VIP)' if self.vip else ''}{', authenticated,' if self.authenticated else ''}"
        topics = [i.replace("_", " ") for i in self.intents]
        sentence += f" called about {', '.join(topics)}." if topics else " called."
        parts = [sentence]
        if self.done:
            parts.append(_capitalise("; ".join(self.done)) + ".")
        if self.outcome in ("transferred", "escalated"):
            why = self.reason.replace("_", " ") if self.reason else "no reason"
            parts.append(f"{_capitalise(self.outcome)} to {self.queue} ({why}, {self.priority} priority"
                         f"{', ' + self.disposition if self.disposition else ''}).")
        else:
            parts.append(f"Outcome: {(self.outcome or 'in progress').replace('_', ' ')}.")
        if self.csat is not None:
            parts.append(f"CSAT {self.csat}/5.")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.header(),
            "turns": [t.to_dict() for t in self.turns],
            "customer_name": self.customer_name,  # the verified identity, for the agent console
            "authenticated": self.authenticated,
            "vip": self.vip,
            "intents": list(self.intents),
            "outcome": self.outcome,
            "queue": self.queue,
            "agent": self.agent,
            "priority": self.priority,
            "reason": self.reason,
            "disposition": self.disposition,
            "csat": self.csat,
            "done": list(self.done),
            "sentiment_trajectory": list(self.sentiment_trajectory),
            "failures": self.failures,
            "summary": self.summary(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "handle_seconds": self.handle_seconds,
        }


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]
