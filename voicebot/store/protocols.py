"""What the flow needs from storage, as small Protocols a PostgreSQL backend can implement too.
Values crossing the boundary are frozen dataclasses or plain JSON-able dicts, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

# Column widths a value must fit (PostgreSQL refuses a longer one, and the call record with it):
# checked where the values come in (flow load, --caller-id, a SIP identity).
CALLER_ID_LENGTH = 32
QUEUE_NAME_LENGTH = 32
AGENT_NAME_LENGTH = 64


class StoreUnavailable(Exception):
    """A store operation the database could not do mid-call: unreachable (PostgreSQL down or
    restarting), locked past the busy timeout, or refusing the statement. Raised by the store for
    the reads and unspooled writes a call needs (a PIN check, a balance, an agent claim); the call
    engine hands the caller to a person on it (reason system_unavailable) instead of going silent.
    Writes of the call record never raise it: they are spooled (voicebot.store.spool).

    `operation`: the store method; `error`: the database error's class (never its values)."""

    def __init__(self, operation: str, error: str, detail: str = "") -> None:
        super().__init__(f"{operation}: {error}" + (f": {detail}" if detail else ""))
        self.operation, self.error, self.detail = operation, error, detail


@dataclass(frozen=True)
class Card:
    kind: str  # debit | credit
    last4: str
    status: str  # active | inactive | blocked


@dataclass(frozen=True)
class Customer:
    customer_id: str
    first_name: str
    last_name: str
    phone: str
    vip: bool
    balance: Decimal
    language: str = "en"
    cards: tuple[Card, ...] = ()


@dataclass(frozen=True)
class Transaction:
    posted_on: date
    description: str
    amount: Decimal  # negative = money out


class CustomerStore(Protocol):
    def get_customer(self, customer_id: str) -> Customer | None: ...
    def find_by_phone(self, phone: str) -> Customer | None: ...
    def verify_pin(self, customer_id: str, pin: str) -> bool: ...
    def recent_transactions(self, customer_id: str, limit: int = 3) -> list[Transaction]: ...
    def set_card_status(self, customer_id: str, kind: str, status: str) -> Card | None: ...


class CallStore(Protocol):
    """Call records, written as the call happens so a crash loses nothing already said."""

    def start_call(self, header: dict[str, Any]) -> None: ...
    def add_turn(self, call_id: str, seq: int, turn: dict[str, Any]) -> None: ...
    def finish_call(self, record: dict[str, Any]) -> None: ...
    def calls(self) -> list[dict[str, Any]]: ...


class TaskStore(Protocol):
    """Callback requests and voicemails waiting for an agent."""

    def add_task(self, task: dict[str, Any]) -> None: ...
    def tasks(self, kind: str | None = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class AgentState:
    """An agent's live status, overriding the flow roster's. `until` ends a busy spell on its own:
    without a feed from the agents' desktops, a connected call is assumed to last the queue's
    average handle time. Times are timezone-aware datetimes (ISO strings are accepted on the way
    in); the store returns them in UTC."""

    status: str  # available | busy | offline
    since: datetime | str
    until: datetime | str | None = None


class AgentStore(Protocol):
    """Who is free right now, shared by every call (and every worker) on this database."""

    def agent_states(self) -> dict[str, AgentState]: ...
    def set_agent_state(self, name: str, state: AgentState) -> None: ...
    def claim_agent(self, name: str, now: datetime, until: datetime | None, call_id: str | None = None) -> bool:
        """Atomically make an available agent busy; False when someone else got them first."""
        ...


class QueueStore(Protocol):
    """Callers waiting for a person; each entry is taken by exactly one agent."""

    def enqueue(self, entry: dict[str, Any]) -> bool: ...
    def waiting(self, queues: list[str] | None = None) -> list[dict[str, Any]]: ...
    def take_next(self, agent: str, queues: list[str], now: datetime) -> dict[str, Any] | None: ...
    def next_counter(self, key: str) -> int: ...
    def kept_place(self, call_id: str) -> int | None:
        """The place of a call that took over one its caller lost with a worker (else None)."""
        ...


class Store(CustomerStore, CallStore, TaskStore, AgentStore, QueueStore, Protocol):
    """Everything the call engine talks to."""
