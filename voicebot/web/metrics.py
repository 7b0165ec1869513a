"""GET /metrics in Prometheus text format. Counts come from the store at scrape time (so every
worker on one database reports the same totals); latencies and errors are observed in this
process: give each Session a `TurnTimer()` listener (session.subscribe) and call `count_error`
where a backend fails."""

from __future__ import annotations

import secrets
from collections import Counter

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter as PromCounter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from voicebot.flow.routing import current

router = APIRouter()
REGISTRY = CollectorRegistry()
TURN_LATENCY = Histogram("voicebot_turn_latency_seconds", "Time per turn stage", ["stage"], registry=REGISTRY,
                         buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0))
ERRORS = PromCounter("voicebot_errors_total", "Errors by component (asr, nlu, tts)", ["component"],
                     registry=REGISTRY)


class TurnTimer:
    """A Session listener (one per call) timing each turn's stages in this process, as the events
    arrive: asr (speech ended → transcript), nlu (transcript → understood), flow (understood →
    prompt), tts (prompt → spoken), turn (speech ended → the reply's audio ready)."""

    _STAGES = {"Transcript": ("asr", "SpeechEnded"), "Understood": ("nlu", "Transcript"),
               "Prompt": ("flow", "Understood"), "Spoken": ("tts", "Prompt")}

    def __init__(self, clock=None) -> None:
        import time

        self._clock = clock or time.perf_counter
        self._seen: dict[str, float] = {}

    def __call__(self, event) -> None:
        name, now = type(event).__name__, self._clock()
        if name == "StageFailed":
            count_error(event.stage)
        if name in self._STAGES:
            stage, after = self._STAGES[name]
            if after in self._seen:
                TURN_LATENCY.labels(stage).observe(now - self._seen[after])
        self._seen[name] = now
        if name == "Spoken":  # the reply is ready: this turn is over
            if "SpeechEnded" in self._seen:
                TURN_LATENCY.labels("turn").observe(now - self._seen["SpeechEnded"])
            self._seen.clear()


def count_error(component: str) -> None:
    """For the ASR/NLU/TTS wrappers: one failure of `component` (asr, nlu, tts)."""
    ERRORS.labels(component).inc()


class StoreCollector:
    """Gauges read from the store at scrape time."""

    def __init__(self, cfg) -> None:
        self.cfg = cfg

    def collect(self):
        store, now = self.cfg.store, self.cfg.now()
        calls = store.calls()
        outcomes = GaugeMetricFamily("voicebot_calls", "Stored calls by outcome", labels=["outcome"])
        for outcome, n in sorted(Counter(c.get("outcome") or "in_progress" for c in calls).items()):
            outcomes.add_metric([outcome], n)
        turns = GaugeMetricFamily("voicebot_turns", "Caller turns in stored calls")
        turns.add_metric([], sum(len(c.get("turns", [])) for c in calls))
        reasons = GaugeMetricFamily("voicebot_escalations", "Escalated calls by reason", labels=["reason"])
        for reason, n in sorted(Counter(c.get("reason") or "none" for c in calls
                                        if c.get("outcome") == "escalated").items()):
            reasons.add_metric([reason], n)
        queues = GaugeMetricFamily("voicebot_queue_waiting", "Callers waiting per queue", labels=["queue"])
        waiting = Counter(e["queue"] for e in store.waiting())
        for queue in self.cfg.flow.spec.queues:
            queues.add_metric([queue], waiting.get(queue, 0))
        agents = GaugeMetricFamily("voicebot_agents", "Agents by status", labels=["status"])
        states = store.agent_states()
        status = Counter(current(a, states.get(a.name), now).status for a in self.cfg.flow.spec.agents)
        for name in ("available", "busy", "offline"):
            agents.add_metric([name], status.get(name, 0))
        yield from (outcomes, turns, reasons, queues, agents)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """A supervisor's session, or `Authorization: Bearer $VOICEBOT_METRICS_TOKEN` for a scraper."""
    cfg = request.app.state.cfg
    user = request.session.get("user")
    bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not (user and user["role"] == "supervisor") and not (
            cfg.metrics_token and bearer and secrets.compare_digest(bearer, cfg.metrics_token)):
        raise HTTPException(401, "log in as a supervisor or send the metrics bearer token")
    registry = CollectorRegistry()
    registry.register(StoreCollector(cfg))
    body = generate_latest(registry) + generate_latest(REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
