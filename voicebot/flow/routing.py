"""Which agent or queue a call goes to: fixed order, round robin, most idle, skill-based, language,
percentage split, VIP/high priority, business hours, and an Erlang C wait estimate.

A Router lives as long as its Flow (one per process), so round-robin and split counters carry
across calls. Agent status comes from the flow's roster, overridden by the live states the engine
reads from the store (an agent is busy after a call is put through); the Router does no I/O."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from voicebot.flow.erlang import average_wait
from voicebot.flow.hours import is_open
from voicebot.flow.schema import AgentSpec, FlowSpec, QueueSpec
from voicebot.store.protocols import AgentState
from voicebot.store.timestamps import aware


@dataclass(frozen=True)
class Caller:
    priority: str = "normal"  # normal | high | vip
    language: str = "en"


@dataclass(frozen=True)
class RouteDecision:
    """kind: agent (a free agent takes it) | queued | callback_offer | voicemail | after_hours."""

    kind: str
    queue: str
    agent: str | None = None
    position: int | None = None
    estimated_wait: float | None = None
    after_hours: str | None = None  # callback | voicemail | message


class Router:
    def __init__(self, spec: FlowSpec) -> None:
        self.spec = spec
        self._next_index: dict[str, int] = {}  # round robin pointer per queue
        self._split_credit: dict[str, dict[str, int]] = {}  # smooth weighted round robin

    def route(self, queue_name: str, caller: Caller, now: datetime, min_tier: int | None = None,
              live: Mapping[str, AgentState] | None = None, waiting_now: int = 0,
              counter: Callable[[str], int] | None = None, exclude: frozenset[str] = frozenset()) -> RouteDecision:
        """`waiting_now`: callers already in the store's queue (added to the flow's `waiting`);
        `counter`: the store's shared round-robin pointer; `exclude`: agents just taken by others."""
        queue_name = self._split(queue_name, counter)
        queue = self.spec.queues[queue_name]
        if queue.hours and not is_open(self.spec.hours[queue.hours], now):
            return RouteDecision("after_hours", queue_name, after_hours=queue.after_hours)
        staffed = self.candidates(queue_name, caller, min_tier, live or {}, now)
        free = [a for a in staffed if a.status == "available" and a.name not in exclude]
        if free:
            return RouteDecision("agent", queue_name, agent=self._pick(queue_name, queue, free, counter).name,
                                 position=0, estimated_wait=0.0)
        if not staffed:
            return RouteDecision("voicemail", queue_name)
        waiting = queue.waiting + waiting_now
        position = queue_position(waiting, caller.priority)
        wait = average_wait(len(staffed), queue.calls_per_hour, queue.handle_seconds)
        wait = wait * position / (waiting + 1) if math.isfinite(wait) else wait
        if queue.callback_over_seconds is not None and wait > queue.callback_over_seconds:
            return RouteDecision("callback_offer", queue_name, position=position, estimated_wait=wait)
        return RouteDecision("queued", queue_name, position=position, estimated_wait=wait)

    def candidates(self, queue_name: str, caller: Caller, min_tier: int | None,
                   live: Mapping[str, AgentState] | None = None, now: datetime | None = None) -> list[AgentSpec]:
        """Staffed (not offline) agents who may take this queue's calls, in roster order."""
        queue = self.spec.queues[queue_name]
        skills = set(queue.skills or ([] if queue.agents else [queue_name]))
        if queue.agents:
            by_name = {a.name: a for a in self.spec.agents}
            agents = [by_name[n] for n in queue.agents]
        else:
            agents = list(self.spec.agents)
        if live and now is not None:
            agents = [current(a, live.get(a.name), now) for a in agents]
        agents = [a for a in agents if a.status != "offline" and skills <= set(a.skills)]
        if queue.match_language:
            agents = [a for a in agents if caller.language in a.languages]
        if min_tier is not None:
            agents = [a for a in agents if a.tier >= min_tier]
        return agents

    def _pick(self, queue_name: str, queue: QueueSpec, free: list[AgentSpec],
              counter: Callable[[str], int] | None = None) -> AgentSpec:
        if queue.strategy == "round_robin":
            if counter is not None:  # shared by every worker on the store
                return free[counter(f"round_robin:{self.spec.name}:{queue_name}") % len(free)]
            index = self._next_index.get(queue_name, 0)
            self._next_index[queue_name] = index + 1
            return free[index % len(free)]
        if queue.strategy in ("most_idle", "skill"):
            return max(free, key=lambda a: a.idle_seconds)  # max keeps roster order on ties
        return free[0]  # fixed_order: first free agent, starting from the top every call

    def _split(self, queue_name: str, counter: Callable[[str], int] | None = None) -> str:
        """Percentage split, deterministic: smooth weighted round robin (70/30 → 7 of every 10).
        With the store's counter, every worker walks the same cycle."""
        queue = self.spec.queues[queue_name]
        if queue.strategy != "percentage":
            return queue_name
        if counter is not None:
            cycle = split_cycle(queue.split)
            return self._split(cycle[counter(f"split:{self.spec.name}:{queue_name}") % len(cycle)], counter)
        credit = self._split_credit.setdefault(queue_name, {q: 0 for q in queue.split})
        chosen = _smooth_step(credit, queue.split)
        return self._split(chosen)


def _smooth_step(credit: dict[str, int], weights: dict[str, int]) -> str:
    for target, weight in weights.items():
        credit[target] += weight
    chosen = max(credit, key=lambda q: credit[q])
    credit[chosen] -= sum(weights.values())
    return chosen


def split_cycle(weights: dict[str, int]) -> list[str]:
    """One full cycle of smooth weighted round robin (its length is the sum of the weights)."""
    credit = {q: 0 for q in weights}
    return [_smooth_step(credit, weights) for _ in range(sum(weights.values()))]


def current(agent: AgentSpec, state: AgentState | None, now: datetime) -> AgentSpec:
    """The roster entry with its live status: a busy spell that has run out is available again,
    idle since it ended."""
    if state is None:
        return agent
    status, since = state.status, aware(state.since)
    if status == "busy" and state.until and now >= aware(state.until):
        status, since = "available", aware(state.until)
    idle = max(0.0, (now - since).total_seconds()) if status == "available" else 0.0
    return agent.model_copy(update={"status": status, "idle_seconds": idle})


def queue_position(waiting: int, priority: str) -> int:
    """VIPs go to the front; raised (high) priority jumps half the line; others join the end."""
    if priority == "vip":
        return 1
    if priority == "high":
        return waiting // 2 + 1
    return waiting + 1
