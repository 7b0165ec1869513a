"""Several workers on one database: timestamps as timezone-aware datetimes, one row per turn
(unique call_id+seq), a queue of waiting callers, shared counters, workers with heartbeats, the
agent's verdict on a call (FCR), done callbacks/voicemails, and web users."""

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMPS = {"calls": ("started_at", "ended_at"), "tasks": ("created_at",), "agent_states": ("since", "until")}
TZ = sa.DateTime(timezone=True)


def _utc_text(value):
    """An ISO string with any offset as the UTC text SQLAlchemy's SQLite DateTime reads back."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = datetime(1970, 1, 1, tzinfo=timezone.utc)  # unreadable legacy value
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the old code wrote local time; assume this machine's zone
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _convert_timestamps(bind) -> None:
    for table, columns in TIMESTAMPS.items():
        if bind.dialect.name == "postgresql":
            for column in columns:
                op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE timestamptz '
                           f'USING NULLIF("{column}", \'\')::timestamptz')
            continue
        key = "call_id" if table == "calls" else ("name" if table == "agent_states" else "id")
        cols = ", ".join(f'"{c}"' for c in columns)
        for row in bind.execute(sa.text(f"SELECT {key}, {cols} FROM {table}")).all():
            values = {c: _utc_text(v) for c, v in zip(columns, row[1:])}
            sets = ", ".join(f'"{c}" = :{c}' for c in columns)
            bind.execute(sa.text(f"UPDATE {table} SET {sets} WHERE {key} = :k"), {**values, "k": row[0]})


def upgrade() -> None:
    bind = op.get_bind()
    _convert_timestamps(bind)
    # SQLite has no timestamp type: the values were rewritten as UTC text above, which is what
    # SQLAlchemy's DateTime reads there; PostgreSQL's columns became timestamptz.
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("queue", sa.String(32), nullable=True))
        batch.add_column(sa.Column("worker_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("resolved", sa.Boolean(), nullable=True))
        batch.create_index("ix_calls_started_at", ["started_at"])
        batch.create_index("ix_calls_caller_id", ["caller_id"])
        batch.create_index("ix_calls_worker_id", ["worker_id"])
    # a turn written twice (a retried commit) must not appear twice
    op.execute("DELETE FROM turns WHERE id NOT IN (SELECT min(id) FROM turns GROUP BY call_id, seq)")
    op.create_index("uq_turns_call_seq", "turns", ["call_id", "seq"], unique=True)
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("done_at", TZ, nullable=True))
        batch.add_column(sa.Column("done_by", sa.String(64), nullable=True))
    with op.batch_alter_table("agent_states") as batch:
        batch.add_column(sa.Column("call_id", sa.String(64), nullable=True))
    op.create_table(
        "queue_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False, unique=True),
        sa.Column("queue", sa.String(32), nullable=False, index=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("enqueued_at", TZ, nullable=False),
        sa.Column("taken_at", TZ, nullable=True),
        sa.Column("agent", sa.String(64), nullable=True),
    )
    op.create_table(
        "counters",
        sa.Column("key", sa.String(96), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("heartbeat_at", TZ, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("users", "workers", "counters", "queue_entries"):
        op.drop_table(table)
