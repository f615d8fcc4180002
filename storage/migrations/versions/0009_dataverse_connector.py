"""dataverse_cursor, dataverse_party, dataverse_stakeholder, dataverse_push: the
Dataverse connector's delta links, id maps and pushed-health digests

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataverse_cursor",
        sa.Column("entity_set", sa.String(), nullable=False),
        sa.Column("delta_link", sa.String(), nullable=True),
        sa.Column("next_link", sa.String(), nullable=True),
        sa.Column("baseline_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("synced_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("entity_set"),
    )
    op.create_table(
        "dataverse_party",
        sa.Column("party_id", sa.String(), nullable=False),
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("record_type", sa.String(), nullable=True),
        sa.Column("record_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("party_id"),
    )
    op.create_index("ix_dataverse_party_activity_id", "dataverse_party", ["activity_id"])
    op.create_table(
        "dataverse_stakeholder",
        sa.Column("connection_id", sa.String(), nullable=False),
        sa.Column("opportunity_id", sa.String(), nullable=False),
        sa.Column("contact_id", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("connection_id"),
    )
    op.create_index(
        "ix_dataverse_stakeholder_opportunity_id", "dataverse_stakeholder", ["opportunity_id"]
    )
    op.create_table(
        "dataverse_push",
        sa.Column("record_type", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("pushed_values", sa.JSON(), nullable=True),
        sa.Column("pushed_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("record_type", "record_id"),
    )


def downgrade() -> None:
    op.drop_table("dataverse_push")
    op.drop_index("ix_dataverse_stakeholder_opportunity_id", table_name="dataverse_stakeholder")
    op.drop_table("dataverse_stakeholder")
    op.drop_index("ix_dataverse_party_activity_id", table_name="dataverse_party")
    op.drop_table("dataverse_party")
    op.drop_table("dataverse_cursor")
