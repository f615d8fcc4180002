"""who-knows-whom introducers and the erased-subject suppression list

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 03:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "introducer",
        sa.Column("record_type", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("system_user_id", sa.String(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("strength", sa.Integer(), nullable=False),
        sa.Column("strength_label", sa.String(), nullable=False),
        sa.Column("last_interaction_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("computed_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("record_type", "record_id", "system_user_id"),
    )
    with op.batch_alter_table("introducer", schema=None) as batch_op:
        batch_op.create_index("ix_introducer_system_user", ["system_user_id"], unique=False)
    op.create_table(
        "erased_subject",
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("erased_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )


def downgrade() -> None:
    op.drop_table("erased_subject")
    with op.batch_alter_table("introducer", schema=None) as batch_op:
        batch_op.drop_index("ix_introducer_system_user")
    op.drop_table("introducer")
