"""A loaded, validated flow: its spec, where it came from, and its Router (shared by its calls)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from voicebot.flow.loader import load_flow_spec, parse_flow_text
from voicebot.flow.routing import Router
from voicebot.flow.schema import FlowSpec


@dataclass
class Flow:
    spec: FlowSpec
    source: str = "<string>"
    router: Router = field(init=False)

    def __post_init__(self) -> None:
        self.router = Router(self.spec)

    @property
    def name(self) -> str:
        return self.spec.name

    def intent_queue(self, intent: str | None) -> str | None:
        """The queue a request intent is routed to, if its state (or the override) names one."""
        if intent is None:
            return None
        if intent in self.spec.escalation.queues:
            return self.spec.escalation.queues[intent]
        target = self.spec.requests.get(intent)
        seen = set()
        while target and target not in seen:  # follow say-and-continue states to the transfer
            seen.add(target)
            state = self.spec.states[target]
            if state.transfer:
                return state.transfer.queue
            target = None if state.ask else state.next
        return None


    def escalation_queue(self, intent: str | None) -> str | None:
        queues = self.spec.queues
        fallback = self.spec.escalation.default_queue or (
            "general" if "general" in queues else next(iter(queues), None))
        return self.intent_queue(intent) or fallback


def load_flow(path: str | Path, intents: Collection[str] | None = None) -> Flow:
    """Read and validate a flow YAML; ConfigError "file:line: problem" when it is wrong. `intents`:
    the names the NLU produces (default: the project's intents/*.yml)."""
    spec, _lines = load_flow_spec(path, intents)
    return Flow(spec, str(path))


def flow_from_text(text: str, source: str = "<string>", intents: Collection[str] | None = None) -> Flow:
    spec, _lines = parse_flow_text(text, source, intents)
    return Flow(spec, source)
