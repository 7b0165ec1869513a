"""Business hours with a timezone (zoneinfo) and holidays."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from voicebot.flow.schema import HoursSpec, parse_span

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def is_open(hours: HoursSpec, now: datetime) -> bool:
    """True when `now` (timezone-aware) falls inside today's opening span, local time."""
    local = now.astimezone(ZoneInfo(hours.timezone))
    if local.date() in hours.holidays:
        return False
    span = hours.weekly.get(_DAYS[local.weekday()])
    if not span:
        return False
    start, end = parse_span(span)
    return start <= local.time().replace(tzinfo=None) < end


def describe(hours: HoursSpec) -> str:
    if hours.say:
        return hours.say
    parts = [f"{day.capitalize()} {hours.weekly[day]}" for day in _DAYS if day in hours.weekly]
    return "We're open " + ", ".join(parts) if parts else "We're closed"
