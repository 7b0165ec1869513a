"""Alembic environment. voicebot runs its migrations itself (`voicebot db upgrade`, or any
open_store) on the connection it passes in, under a lock (voicebot.store.schema.migrate)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run the migrations with `voicebot db upgrade --db URL`")
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
