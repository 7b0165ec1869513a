"""Self-service actions a state can run: read the customer's data through the store, set the
template variables its prompt speaks, and return an outcome its `on:` map branches on. An action
that can fail says so in its outcome; the loader makes every flow give each outcome a branch
(ACTION_OUTCOMES), so no prompt confirms what did not happen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from voicebot.flow.hours import describe, is_open
from voicebot.flow.schema import FlowSpec, StateSpec
from voicebot.flow.speech import say_amount, say_date
from voicebot.store.protocols import Card, CustomerStore

# Every outcome each action can return (None: it cannot fail and goes on with `next`).
ACTION_OUTCOMES: dict[str, tuple[str, ...]] = {
    "check_hours": ("open", "closed"),
    "block_card": ("blocked", "no_card", "ask_which"),
    "activate_card": ("activated", "none_inactive"),
}
# Actions that change the customer's account, beside the actions themselves: a request that runs
# one is confirmed first when heard unsurely (flow/confirm.py); reading a balance changes nothing.
CHANGES_ACCOUNT = frozenset({"block_card", "activate_card"})
CARD_KINDS = ("debit", "credit")


def run_action(state: StateSpec, spec: FlowSpec, store: CustomerStore, customer_id: str | None,
               now: datetime, variables: dict[str, Any], said: str = "") -> str | None:
    """`said`: the caller's words that led here ("I lost my credit card")."""
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
        return _block_card(store, customer_id, variables, said)
    if action == "activate_card":
        customer = store.get_customer(customer_id)
        inactive = [c for c in customer.cards if c.status == "inactive"]
        if not inactive:
            return "none_inactive"
        card = store.set_card_status(customer_id, inactive[0].kind, "active")
        variables["card"] = f"{card.kind} card ending in {' '.join(card.last4)}"
        return "activated"
    return None


def _card_words(card: Card) -> str:
    return f"{card.kind} card ending in {' '.join(card.last4)}"


def _block_card(store: CustomerStore, customer_id: str, variables: dict[str, Any], said: str) -> str:
    """Block the card the caller means: the kind they named ("my credit card", or their answer to
    "which card?" kept as {card_kind}), else their only active card; with several, ask which."""
    cards = [c for c in store.get_customer(customer_id).cards if c.status != "blocked"]
    named = str(variables.get("card_kind") or "").lower() or next(
        (k for k in CARD_KINDS if k in said.lower()), "")
    if named:
        cards = [c for c in cards if c.kind == named]
    else:  # a card not yet activated (still in the post) is rarely the one lost
        cards = [c for c in cards if c.status == "active"] or cards
    if not cards:
        variables["card"] = f"{named} card" if named else "card"
        return "no_card"
    if len({c.kind for c in cards}) > 1:
        variables["cards"] = ", or ".join(f"your {_card_words(c)}" for c in cards)
        return "ask_which"
    card = store.set_card_status(customer_id, cards[0].kind, "blocked")
    if card is None:
        return "no_card"
    variables["card"] = _card_words(card)
    return "blocked"
