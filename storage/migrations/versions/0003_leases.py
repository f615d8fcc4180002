"""leases: mailbox, replica and job leases for worker replicas

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 01:41:15.524713
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lease",
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=True),
        sa.Column("acquired_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("expires_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("round", sa.Integer(), nullable=True),
        sa.Column("completed_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kind", "key"),
    )
    with op.batch_alter_table("lease", schema=None) as batch_op:
        batch_op.create_index("ix_lease_holder", ["holder"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lease", schema=None) as batch_op:
        batch_op.drop_index("ix_lease_holder")

    op.drop_table("lease")
