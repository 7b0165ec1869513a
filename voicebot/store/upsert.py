"""INSERT … ON CONFLICT DO NOTHING for both backends (the one non-portable statement we need)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(session: Any, model: type, **values: Any) -> bool:
    """Insert the row unless its key exists; True when this call inserted it."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    key = model.__mapper__.primary_key[0]
    # RETURNING, not rowcount: the ORM's insert path does not report a rowcount on every driver
    done = session.execute(insert(model).values(**values).on_conflict_do_nothing().returning(key))
    return done.first() is not None
