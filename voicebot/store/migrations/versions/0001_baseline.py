"""Baseline: the schema as the first releases made it (timestamps as ISO text). A database those
releases created already has these tables; they are kept, and the one column added later
(tasks.recording) is added where missing."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "customers" not in have:
        op.create_table(
            "customers",
            sa.Column("customer_id", sa.String(16), primary_key=True),
            sa.Column("first_name", sa.String(80), nullable=False),
            sa.Column("last_name", sa.String(80), nullable=False),
            sa.Column("phone", sa.String(32), nullable=False, index=True),
            sa.Column("vip", sa.Boolean(), nullable=False),
            sa.Column("balance", sa.Numeric(14, 2), nullable=False),
            sa.Column("language", sa.String(8), nullable=False),
            sa.Column("pin_salt", sa.LargeBinary(32), nullable=False),
            sa.Column("pin_hash", sa.LargeBinary(64), nullable=False),
        )
    if "cards" not in have:
        op.create_table(
            "cards",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("customer_id", sa.String(16), sa.ForeignKey("customers.customer_id"), nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("last4", sa.String(4), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
        )
    if "transactions" not in have:
        op.create_table(
            "transactions",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("customer_id", sa.String(16), sa.ForeignKey("customers.customer_id"),
                      nullable=False, index=True),
            sa.Column("posted_on", sa.Date(), nullable=False),
            sa.Column("description", sa.String(120), nullable=False),
            sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        )
    if "calls" not in have:
        op.create_table(
            "calls",
            sa.Column("call_id", sa.String(64), primary_key=True),
            sa.Column("caller_id", sa.String(32), nullable=True),
            sa.Column("started_at", sa.String(40), nullable=False),
            sa.Column("ended_at", sa.String(40), nullable=True),
            sa.Column("outcome", sa.String(24), nullable=True),
            sa.Column("record", sa.JSON(), nullable=False),
        )
    if "turns" not in have:
        op.create_table(
            "turns",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("call_id", sa.String(64), sa.ForeignKey("calls.call_id"), nullable=False, index=True),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("turn", sa.JSON(), nullable=False),
        )
    if "tasks" not in have:
        op.create_table(
            "tasks",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("caller_id", sa.String(32), nullable=True),
            sa.Column("call_id", sa.String(64), nullable=True),
            sa.Column("queue", sa.String(32), nullable=True),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("recording", sa.String(255), nullable=True),
            sa.Column("created_at", sa.String(40), nullable=False),
        )
    elif "recording" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("tasks")}:
        op.add_column("tasks", sa.Column("recording", sa.String(255), nullable=True))
    if "agent_states" not in have:
        op.create_table(
            "agent_states",
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("since", sa.String(40), nullable=False),
            sa.Column("until", sa.String(40), nullable=True),
        )


def downgrade() -> None:
    for table in ("agent_states", "tasks", "turns", "calls", "transactions", "cards", "customers"):
        op.drop_table(table)
