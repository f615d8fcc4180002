"""relationship_kpi.weakest_contact_*: a deal's or account's weakest key contact;
health_snapshot.closed_as: the day a deal was won or lost, with its health at close

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns: no table rebuild on SQLite, no rewrite on PostgreSQL. The
    # next run writes them (every KPI row's digest moves: scoring v2 regrades all).
    with op.batch_alter_table("relationship_kpi", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weakest_contact_id", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("weakest_contact_role", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("weakest_contact_score", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("weakest_contact_since", storage.types.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("health_snapshot", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_as", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("health_snapshot", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("closed_as")
    with op.batch_alter_table("relationship_kpi", schema=None, recreate="never") as batch_op:
        for column in (
            "weakest_contact_since",
            "weakest_contact_score",
            "weakest_contact_role",
            "weakest_contact_id",
        ):
            batch_op.drop_column(column)
