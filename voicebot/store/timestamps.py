"""Aware timestamps at the store's boundary, without SQLAlchemy (the flow's routing uses them too,
and loading a flow must not import SQLAlchemy: voicebot/store/__init__.py)."""

from __future__ import annotations

from datetime import datetime


def aware(value: datetime | str | None) -> datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string; naive values are refused."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        raise ValueError(f"timestamp {value.isoformat()} has no timezone")
    return value
