"""Self-service actions a state can run: read the customer's data through the store, set the
template variables its prompt speaks, and return an outcome its `on:` map may branch on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from voicebot.flow.hours import describe, is_open
from voicebot.flow.schema import FlowSpec, StateSpec
from voicebot.flow.speech import say_amount, say_date
from voicebot.store.protocols import CustomerStore


def run_action(state: StateSpec, spec: FlowSpec, store: CustomerStore, customer_id: str | None,
               now: datetime, variables: dict[str, Any]) -> str | None:
    action = state.action
    if action == "check_hours":
        return "open" if is_open(spec.hours[state.hours], now) else "closed"
    if action == "branch_hours":
        hours = spec.hours[state.hours] if state.hours else next(iter(spec.hours.values()), None)
        variables["hours"] = describe(hours) if hours else "Please check our website for hours"
        return None
    if customer_id is None:  # validation makes these states auth: true; this is a guard
        return "not_authenticated"
    if action == "balance":
        customer = store.get_customer(customer_id)
        variables["balance"] = say_amount(customer.balance)
        return None
    if action == "transactions":
        items = store.recent_transactions(customer_id, 3)
        variables["transactions"] = "; ".join(
            f"on {say_date(t.posted_on)}, {say_amount(abs(t.amount))} "
            f"{'from' if t.amount > 0 else 'at'} {t.description}" for t in items) or "no transactions"
        return None
    if action == "block_card":
        card = store.set_card_status(customer_id, "debit", "blocked")
        variables["card"] = f"{card.kind} card ending in {' '.join(card.last4)}" if card else "card"
        return "blocked" if card else "no_card"
    if action == "activate_card":
        customer = store.get_customer(customer_id)
        inactive = [c for c in customer.cards if c.status == "inactive"]
        if not inactive:
            return "none_inactive"
        card = store.set_card_status(customer_id, inactive[0].kind, "active")
        variables["card"] = f"{card.kind} card ending in {' '.join(card.last4)}"
        return "activated"
    return None
