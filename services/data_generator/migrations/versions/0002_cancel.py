"""Dataset runs can be cancelled: when the cancel was asked for.

Revision ID: dg0002
Revises: dg0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "dg0002"
down_revision = "dg0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_generator_runs") as batch:
        batch.add_column(sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("data_generator_runs") as batch:
        batch.drop_column("cancel_requested_at")
