"""Dataset runs.

Revision ID: dg0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "dg0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_generator_runs",
        sa.Column("dataset_id", sa.String(128), nullable=False),
        sa.Column("command", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("manifest_object", sa.String(1024), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", name="pk_data_generator_runs"),
    )
    op.create_index("ix_data_generator_runs_status", "data_generator_runs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_data_generator_runs_status", table_name="data_generator_runs")
    op.drop_table("data_generator_runs")
