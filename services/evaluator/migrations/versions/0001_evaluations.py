"""Evaluation runs, known adapters, promotions.

Revision ID: ev0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "ev0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluator_runs",
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("command", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_evaluator_runs"),
    )
    op.create_index("ix_evaluator_runs_status", "evaluator_runs", ["status"])
    op.create_table(
        "evaluator_adapters",
        sa.Column("adapter_id", sa.String(512), nullable=False),
        sa.Column("skill_name", sa.String(128), nullable=False),
        sa.Column("skill_version", sa.String(128), nullable=False),
        sa.Column("base_model", sa.String(512), nullable=False),
        sa.Column("dataset_object", sa.String(1024), nullable=True),
        sa.Column("dataset_digest", sa.String(64), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("adapter_id", name="pk_evaluator_adapters"),
    )
    op.create_index("ix_evaluator_adapters_skill_name", "evaluator_adapters", ["skill_name"])
    op.create_table(
        "evaluator_promotions",
        sa.Column("skill_name", sa.String(128), nullable=False),
        sa.Column("adapter_id", sa.String(512), nullable=False),
        sa.Column("pass_rate", sa.Float(), nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("skill_name", name="pk_evaluator_promotions"),
    )


def downgrade() -> None:
    op.drop_table("evaluator_promotions")
    op.drop_index("ix_evaluator_adapters_skill_name", table_name="evaluator_adapters")
    op.drop_table("evaluator_adapters")
    op.drop_index("ix_evaluator_runs_status", table_name="evaluator_runs")
    op.drop_table("evaluator_runs")
