"""Demo bank customers, inserted once (idempotent: existing customers are left alone)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from voicebot.store.models import CardRow, CustomerRow, TransactionRow
from voicebot.store.pins import hash_pin, new_salt

DEMO_CUSTOMERS = (
    {
        "customer_id": "12345678", "pin": "2468", "first_name": "Alice", "last_name": "Moreno",
        "phone": "+15551230001", "vip": False, "balance": Decimal("1520.75"),
        "cards": (("debit", "4321", "active"), ("credit", "8765", "inactive")),
        "transactions": (
            (date(2026, 11, 20), "Green Grocer", Decimal("-42.10")),
            (date(2026, 11, 18), "Salary from Acme", Decimal("2400.00")),
            (date(2026, 11, 15), "City Power bill", Decimal("-85.00")),
        ),
    },
    {
        "customer_id": "87654321", "pin": "1357", "first_name": "Bob", "last_name": "Tanaka",
        "phone": "+15551230002", "vip": True, "balance": Decimal("98200.00"),
        "cards": (("debit", "1122", "active"),),
        "transactions": (
            (date(2026, 11, 21), "Harbor Restaurant", Decimal("-230.50")),
            (date(2026, 11, 19), "Wire from Tanaka Holdings", Decimal("15000.00")),
        ),
    },
)


def seed_demo(session: Session) -> int:
    """Insert the demo customers that are missing; returns how many were added."""
    added = 0
    for spec in DEMO_CUSTOMERS:
        if session.get(CustomerRow, spec["customer_id"]) is not None:
            continue
        salt = new_salt()
        session.add(CustomerRow(
            customer_id=spec["customer_id"], first_name=spec["first_name"],
            last_name=spec["last_name"], phone=spec["phone"], vip=spec["vip"],
            balance=spec["balance"], language="en", pin_salt=salt,
            pin_hash=hash_pin(spec["pin"], salt),
        ))
        session.flush()  # the parent row first, so PostgreSQL's FK checks pass
        for kind, last4, status in spec["cards"]:
            session.add(CardRow(customer_id=spec["customer_id"], kind=kind, last4=last4, status=status))
        for posted_on, description, amount in spec["transactions"]:
            session.add(TransactionRow(customer_id=spec["customer_id"], posted_on=posted_on,
                                       description=description, amount=amount))
        added += 1
    session.commit()
    return added
