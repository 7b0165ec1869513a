"""INSERT … ON CONFLICT DO NOTHING for both backends (the one non-portable statement we need)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(session: Any, model: type, **values: Any) -> bool:
    """Insert the row unless its key exists; True when this call inserted it."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    done = session.execute(insert(model).values(**values).on_conflict_do_nothing())
    return done.rowcount == 1
