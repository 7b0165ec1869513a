"""What each page shows, computed from the store and the flow (no HTTP here). Customer numbers
never leave this module: every call dict is passed through `public_call`."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from typing import Any

from voicebot.flow.erlang import average_wait
from voicebot.flow.routing import Caller, current
from voicebot.store.kpis import compute_kpis
from voicebot.store.protocols import AgentState
from voicebot.web.auth import User
from voicebot.web.charts import bar_chart, line_chart
from voicebot.web.settings import WebSettings

HIDDEN_FIELDS = ("customer_id",)  # the customer (account) number: never on a screen


def public_call(call: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in call.items() if k not in HIDDEN_FIELDS}


def short_number(number: str | None) -> str:
    """Wallboards are on the wall: only the last digits of a caller's number."""
    return f"…{number[-4:]}" if number else "unknown"


def _seconds(a: datetime, b: datetime) -> float:
    return max(0.0, (a - b).total_seconds())


def agents_now(cfg: WebSettings, now: datetime) -> list[dict[str, Any]]:
    states, calls = cfg.store.agent_states(), cfg.store.agent_calls()
    out = []
    for agent in cfg.flow.spec.agents:
        live = current(agent, states.get(agent.name), now)
        out.append({"name": agent.name, "status": live.status, "skills": agent.skills,
                    "call_id": calls.get(agent.name) if live.status == "busy" else None})
    return out


def agent_queues(cfg: WebSettings, user: User, now: datetime) -> list[str]:
    """The queues whose callers this user may take: an agent's by skills/membership in the flow's
    roster (whatever their status now); a supervisor off the roster may step in on any queue."""
    if user.supervisor and not any(a.name == user.name for a in cfg.flow.spec.agents):
        return list(cfg.flow.spec.queues)
    present = {user.name: AgentState("available", now)}
    return [q for q in cfg.flow.spec.queues
            if any(a.name == user.name for a in cfg.flow.router.candidates(q, Caller(), None, present, now))]


def _queue_rows(cfg: WebSettings, now: datetime) -> list[dict[str, Any]]:
    states, waiting = cfg.store.agent_states(), cfg.store.waiting()
    rows = []
    for name, spec in cfg.flow.spec.queues.items():
        here = [e for e in waiting if e["queue"] == name]
        staffed = cfg.flow.router.candidates(name, Caller(), None, states, now)
        wait = average_wait(len(staffed), spec.calls_per_hour, spec.handle_seconds)
        rows.append({"name": name, "label": spec.label or name, "waiting": len(here),
                     "longest_wait": max((_seconds(now, e["enqueued_at"]) for e in here), default=0.0),
                     "estimated_wait": None if math.isinf(wait) else round(wait, 1),
                     "available": sum(a.status == "available" for a in staffed), "staffed": len(staffed)})
    return rows


def service_level(cfg: WebSettings, calls: list[dict[str, Any]], now: datetime) -> float | None:
    """Share of callers who reached a person within the target: put straight through, or taken from
    the queue in time; abandoned or still waiting past the target count against."""
    target = cfg.service_level_seconds
    direct = sum(1 for c in calls if c.get("disposition") == "agent")
    answered, total = direct, direct
    for e in cfg.store.queue_history(cfg.day_start()):
        if e["status"] == "taken":
            total += 1
            answered += _seconds(e["taken_at"], e["enqueued_at"]) <= target
        elif e["status"] == "abandoned" or _seconds(now, e["enqueued_at"]) > target:
            total += 1
    return round(answered / total, 4) if total else None


def _hourly(calls: list[dict[str, Any]], cfg: WebSettings) -> tuple[list[int], list[float | None], list[str]]:
    counts, scores = [0] * 24, [[] for _ in range(24)]
    for call in calls:
        hour = datetime.fromisoformat(call["started_at"]).astimezone(cfg.timezone).hour
        counts[hour] += 1
        trajectory = call.get("sentiment_trajectory") or [
            t["caller"]["sentiment_score"] for t in call.get("turns", []) if t["caller"].get("sentiment_score") is not None]
        scores[hour].extend(trajectory)
    means = [round(sum(s) / len(s), 3) if s else None for s in scores]
    return counts, means, [f"{h:02d}" for h in range(24)]


def wallboard(cfg: WebSettings) -> dict[str, Any]:
    now = cfg.now()
    calls = cfg.store.calls(since=cfg.day_start())
    finished = [c for c in calls if c.get("outcome")]
    kpis = compute_kpis(finished)
    agents = agents_now(cfg, now)
    live = [{"call_id": c["call_id"], "caller": short_number(c.get("caller_id")), "state": c.get("state"),
             "last_intent": c.get("last_intent"), "sentiment": c.get("sentiment"),
             "seconds": round(_seconds(now, datetime.fromisoformat(c["started_at"])))}
            for c in cfg.store.live_calls()]
    escalations = Counter(c.get("reason") or "none" for c in finished if c.get("outcome") == "escalated")
    counts, sentiment, hours = _hourly(calls, cfg)
    recent = [{"call_id": c["call_id"], "caller": short_number(c.get("caller_id")), "outcome": c.get("outcome"),
               "queue": c.get("queue"), "reason": c.get("reason")} for c in reversed(finished[-8:])]
    return {
        "live": live, "queues": _queue_rows(cfg, now), "agents": agents,
        "agent_counts": {s: sum(a["status"] == s for a in agents) for s in ("available", "busy", "offline")},
        "service_level": service_level(cfg, finished, now), "service_level_seconds": cfg.service_level_seconds,
        "kpis": kpis, "calls_today": len(calls), "escalations": dict(sorted(escalations.items())),
        "recent": recent, "calls_chart": bar_chart(counts, hours, "calls per hour"),
        "sentiment_chart": line_chart(sentiment, hours, "mean caller sentiment per hour"),
    }


def call_detail(cfg: WebSettings, call_id: str) -> dict[str, Any] | None:
    call = cfg.store.call(call_id)
    if call is None:
        return None
    call = public_call(call)
    turns = call.get("turns", [])
    trajectory = call.get("sentiment_trajectory") or [
        t["caller"]["sentiment_score"] for t in turns if t["caller"].get("sentiment_score") is not None]
    call["sentiment_chart"] = line_chart(list(trajectory), [str(i + 1) for i in range(len(trajectory))],
                                         "caller sentiment, turn by turn")
    call["has_recording"] = recording_path(cfg, call_id) is not None
    return call


def recording_path(cfg: WebSettings, call_id: str):
    """The call's stereo WAV (caller left, bot right), if one was saved."""
    if not call_id.replace("-", "").isalnum():
        return None
    for folder in cfg.recordings:
        path = folder / f"{call_id}.wav"
        if path.is_file():
            return path
    return None


def agent_console(cfg: WebSettings, user: User) -> dict[str, Any]:
    now, name = cfg.now(), user.name
    queues = agent_queues(cfg, user, now)
    me = next((a for a in agents_now(cfg, now) if a["name"] == name), None)
    current_id = cfg.store.agent_calls().get(name)
    tasks = [t for t in cfg.store.tasks(open_only=True) if t["queue"] in queues or t["queue"] is None]
    return {"queues": queues, "waiting": cfg.store.waiting(queues), "me": me,
            "status": me["status"] if me else "available",
            "call": call_detail(cfg, current_id) if current_id else None, "tasks": tasks}
