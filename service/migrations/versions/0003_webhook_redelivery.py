"""webhook runs are delivered by the worker, retried with backoff over a horizon, then dead

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite cannot alter a column's nullability in place (alembic copies the table).
    with op.batch_alter_table("automation_runs") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("retry_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("delivery_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch.alter_column("finished_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch.create_index("ix_automation_runs_next_attempt_at", ["next_attempt_at"], unique=False)


def downgrade() -> None:
    # Runs still pending have no finish time: give them their start time.
    op.execute("UPDATE automation_runs SET finished_at = started_at WHERE finished_at IS NULL")
    with op.batch_alter_table("automation_runs") as batch:
        batch.drop_index("ix_automation_runs_next_attempt_at")
        batch.alter_column("finished_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_column("payload")
        batch.drop_column("delivery_id")
        batch.drop_column("retry_until")
        batch.drop_column("next_attempt_at")
