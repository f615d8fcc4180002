"""interaction (regarding_type, regarding_id) index: a record's timeline
(`rapport health timeline`) finds what regards it without scanning every interaction

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain index: at 1M interactions it builds in a few seconds and blocks writes
    # (not reads) meanwhile; the upgrade runs before the worker starts (docs/deploy.md).
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.create_index(
            "ix_interaction_regarding", ["regarding_type", "regarding_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.drop_index("ix_interaction_regarding")
