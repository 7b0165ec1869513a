"""Agents' live status, shared by every call and worker on one database. A claim is one guarded
UPDATE (…WHERE status is free), so two calls — in one process or on two workers — can never both
get the same agent: the database serialises them and the loser sees 0 rows changed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select, update

from voicebot.store.models import AgentStateRow
from voicebot.store.protocols import AgentState
from voicebot.store.types import aware
from voicebot.store.unavailable import store_operation
from voicebot.store.upsert import insert_ignore


def _free(now: datetime):
    """Available, or busy for a spell that has run out."""
    return or_(AgentStateRow.status == "available",
               and_(AgentStateRow.status == "busy", AgentStateRow.until.is_not(None), AgentStateRow.until <= now))


class AgentMixin:
    @store_operation
    def agent_states(self) -> dict[str, AgentState]:
        with self._session() as s:
            return {r.name: AgentState(r.status, r.since, r.until) for r in s.scalars(select(AgentStateRow))}

    def agent_calls(self) -> dict[str, str | None]:
        """The call each agent took last (from the console or a transfer)."""
        with self._session() as s:
            return {r.name: r.call_id for r in s.scalars(select(AgentStateRow))}

    def set_agent_state(self, name: str, state: AgentState) -> None:
        with self._session() as s:
            s.merge(AgentStateRow(name=name, status=state.status, since=aware(state.since),
                                  until=aware(state.until), call_id=None))
            s.commit()

    @store_operation
    def claim_agent(self, name: str, now: datetime, until: datetime | None, call_id: str | None = None) -> bool:
        """Make `name` busy (until `until`, or until set free) if they are free now. An agent with no
        row yet is free by the roster's word: the caller only claims agents the roster calls available."""
        now, until = aware(now), aware(until)
        values = {"status": "busy", "since": now, "until": until, "call_id": call_id}
        with self._session() as s:
            done = s.execute(update(AgentStateRow).where(AgentStateRow.name == name, _free(now)).values(**values))
            won = done.rowcount == 1 or insert_ignore(s, AgentStateRow, name=name, **values)
            s.commit()
            return won
