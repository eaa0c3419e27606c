"""Training jobs and their checkpoint ledger.

Revision ID: tr0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "tr0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trainer_jobs",
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("command", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested", sa.String(16), nullable=True),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(8), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(32), nullable=True),
        sa.Column("hyperparameters", sa.JSON(), nullable=True),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("adapter_id", sa.String(256), nullable=True),
        sa.Column("adapter_object", sa.String(1024), nullable=True),
        sa.Column("adapter_digest", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name="pk_trainer_jobs"),
    )
    op.create_index("ix_trainer_jobs_status", "trainer_jobs", ["status"])
    op.create_table(
        "trainer_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("phase", sa.String(8), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("object_name", sa.String(1024), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["trainer_jobs.job_id"],
            name="fk_trainer_checkpoints_job_id_trainer_jobs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_trainer_checkpoints"),
        sa.UniqueConstraint("object_name", name="uq_trainer_checkpoints_object_name"),
    )
    op.create_index("ix_trainer_checkpoints_job", "trainer_checkpoints", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_trainer_checkpoints_job", table_name="trainer_checkpoints")
    op.drop_table("trainer_checkpoints")
    op.drop_index("ix_trainer_jobs_status", table_name="trainer_jobs")
    op.drop_table("trainer_jobs")
