"""A voicemail's WAV path is as long as the file system allows: `tasks.recording` becomes TEXT.
VARCHAR(255) refused a longer path on PostgreSQL (SQLite never checked the length), so a voicemail
left under a deep folder lost its task."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("recording", type_=sa.Text(), existing_type=sa.String(255), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("recording", type_=sa.String(255), existing_type=sa.Text(), existing_nullable=True)
