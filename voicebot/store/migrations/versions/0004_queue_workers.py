"""Queue entries tied to the worker holding the caller's line: `worker_id` (whose death drops the
entry), the caller's number (to give them their place back when they call again), when the entry
stopped waiting (`left_at`: the rejoin window runs from there) and which dropped entry's place a
new one took over (`kept_from`)."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queue_entries") as batch:
        batch.add_column(sa.Column("worker_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("caller_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("left_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("kept_from", sa.Integer(), nullable=True))
        batch.create_index("ix_queue_entries_worker_id", ["worker_id"])
        batch.create_index("ix_queue_entries_caller_id", ["caller_id"])


def downgrade() -> None:
    with op.batch_alter_table("queue_entries") as batch:
        batch.drop_index("ix_queue_entries_caller_id")
        batch.drop_index("ix_queue_entries_worker_id")
        for column in ("kept_from", "left_at", "caller_id", "worker_id"):
            batch.drop_column(column)
