"""The adapter registry: adapters registered, promoted (served) and retired.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adapters",
        sa.Column("adapter_id", sa.String(256), nullable=False),
        sa.Column("skill_name", sa.String(64), nullable=False),
        sa.Column("skill_version", sa.String(64), nullable=True),
        sa.Column("base_model", sa.String(512), nullable=True),
        sa.Column("job_id", sa.String(128), nullable=True),
        sa.Column("object_name", sa.String(1024), nullable=True),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("chat_template_hash", sa.String(128), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(128), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=True),
        sa.Column("replaced_by", sa.String(256), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("adapter_id", name="pk_adapters"),
    )
    op.create_index("ix_adapters_status", "adapters", ["status"])


def downgrade() -> None:
    op.drop_index("ix_adapters_status", table_name="adapters")
    op.drop_table("adapters")
