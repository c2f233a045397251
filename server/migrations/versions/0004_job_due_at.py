"""jobs.due_at: when a queued job may run, so that lost queue messages are sent again

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:10:00
"""

import sqlalchemy as sa
from alembic import op

import server.models.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("due_at", server.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_jobs_due_at"), ["due_at"], unique=False)
    # jobs still queued when this runs are due now
    op.execute("UPDATE jobs SET due_at = created_at WHERE status = 'queued'")


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_due_at"))
        batch_op.drop_column("due_at")
