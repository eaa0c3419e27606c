"""Ingestions and accepted skill versions.

Revision ID: sp0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "sp0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skill_parser_ingestions",
        sa.Column("object_name", sa.String(1024), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("skill_name", sa.String(64), nullable=True),
        sa.Column("skill_version", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("object_name", "digest", name="pk_skill_parser_ingestions"),
    )
    op.create_table(
        "skill_parser_versions",
        sa.Column("skill_name", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("bundle_object", sa.String(1024), nullable=False),
        sa.Column("rubric", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("skill_name", "version", name="pk_skill_parser_versions"),
    )


def downgrade() -> None:
    op.drop_table("skill_parser_versions")
    op.drop_table("skill_parser_ingestions")
