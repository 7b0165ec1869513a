"""Alembic environment: voicebot runs migrations itself (voicebot.store.schema.migrate) on the
connection it passes in; the `alembic` command line works too with -x url=... ."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

connection = context.config.attributes.get("connection")
if connection is None:
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()
else:
    context.configure(connection=connection, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
