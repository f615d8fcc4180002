"""crm_activity_digest: the CRM-data path derives only activities whose inputs changed

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 06:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty at first: the next run derives every activity once, as before.
    op.create_table(
        "crm_activity_digest",
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("interaction_key", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("activity_id"),
    )


def downgrade() -> None:
    op.drop_table("crm_activity_digest")
