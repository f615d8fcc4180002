"""relationship_kpi.kpi_digest: write-back compares digests instead of JSON values

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 03:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows have no digest: the next run rewrites them once.
    with op.batch_alter_table("relationship_kpi", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kpi_digest", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("relationship_kpi", schema=None) as batch_op:
        batch_op.drop_column("kpi_digest")
