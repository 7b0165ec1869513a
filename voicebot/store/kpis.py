"""Contact-centre KPIs over stored call records (the dicts CallRecord.to_dict() produces).

- AHT: mean handle_seconds of calls that were not abandoned.
- FCR: share of non-abandoned calls whose caller did not call again within `repeat_window`
  (the repeat-call method; calls without a caller ID count as resolved when not abandoned); a call
  an agent marked resolved or not counts as the agent said.
- CSAT: mean survey score (1–5) and % satisfied (4 or 5) over calls that answered the survey.
- abandonment: abandoned / all calls.  containment: self_service / all calls (the bot answered at
  least one request itself and routed nothing; `completed` calls — wrong numbers, goodbyes,
  questions declined — were not contained, just ended).
- escalation_rate: escalated / all calls, and per reason; transfers per reason likewise."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

Record = dict[str, Any]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def first_contact_resolved(calls: list[Record], repeat_window: timedelta) -> tuple[int, int]:
    """(resolved at first contact, eligible calls)."""
    eligible = [c for c in calls if c.get("outcome") not in (None, "abandoned")]
    starts: dict[str, list[datetime]] = {}
    for call in calls:
        if call.get("caller_id"):
            starts.setdefault(call["caller_id"], []).append(datetime.fromisoformat(call["started_at"]))
    resolved = 0
    for call in eligible:
        if call.get("agent_resolved") is not None:  # an agent's verdict outranks the repeat-call guess
            resolved += bool(call["agent_resolved"])
            continue
        began = datetime.fromisoformat(call["started_at"])
        again = [s for s in starts.get(call.get("caller_id") or "", [])
                 if began < s <= began + repeat_window]
        resolved += not again
    return resolved, len(eligible)


def compute_kpis(calls: list[Record], repeat_window: timedelta = timedelta(days=7)) -> dict[str, Any]:
    finished = [c for c in calls if c.get("outcome")]
    total = len(finished)
    outcomes = Counter(c["outcome"] for c in finished)
    handled = [c["handle_seconds"] for c in finished
               if c["outcome"] != "abandoned" and c.get("handle_seconds") is not None]
    scores = [c["csat"] for c in finished if c.get("csat") is not None]
    fcr, fcr_base = first_contact_resolved(finished, repeat_window)
    escalations = Counter(c.get("reason") for c in finished if c["outcome"] == "escalated")
    transfers = Counter(c.get("reason") for c in finished if c["outcome"] == "transferred")
    return {
        "calls": total,
        "outcomes": dict(sorted(outcomes.items())),
        "aht_seconds": round(sum(handled) / len(handled), 1) if handled else None,
        "fcr": _rate(fcr, fcr_base),
        "csat_avg": round(sum(scores) / len(scores), 2) if scores else None,
        "csat_satisfied": _rate(sum(s >= 4 for s in scores), len(scores)),
        "csat_responses": len(scores),
        "abandonment": _rate(outcomes["abandoned"], total),
        "containment": _rate(outcomes["self_service"], total),
        "escalation_rate": _rate(outcomes["escalated"], total),
        "escalations_by_reason": {str(k): _rate(v, total) for k, v in sorted(escalations.items())},
        "transfers_by_reason": {str(k): _rate(v, total) for k, v in sorted(transfers.items())},
        # calls per intent model version (a call from before versions were recorded: "unknown")
        "nlu_models": dict(sorted(Counter(c.get("nlu_model") or "unknown" for c in finished).items())),
        # and per recogniser ("unknown" also for calls replayed from text: no recogniser heard them)
        "asr_models": dict(sorted(Counter(c.get("asr_model") or "unknown" for c in finished).items())),
    }
