"""Failed PIN checks per customer across calls (the PIN lockout): the number is stored only as a
one-way hash, with when the failure happened."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pin_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("customer_key", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pin_failures_customer_key", "pin_failures", ["customer_key"])


def downgrade() -> None:
    op.drop_index("ix_pin_failures_customer_key", table_name="pin_failures")
    op.drop_table("pin_failures")
