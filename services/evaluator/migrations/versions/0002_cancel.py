"""Evaluation runs can be cancelled: when the cancel was asked for.

Revision ID: ev0002
Revises: ev0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "ev0002"
down_revision = "ev0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evaluator_runs") as batch:
        batch.add_column(sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evaluator_runs") as batch:
        batch.drop_column("cancel_requested_at")
