"""exchange sync: tenant, mailbox, sync cursor, sightings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 00:38:21.054575
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interaction_sighting",
        sa.Column("mailbox_id", sa.String(), nullable=False),
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("interaction_key", sa.String(), nullable=False),
        sa.Column("folder_id", sa.String(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("mailbox_id", "item_id"),
    )
    with op.batch_alter_table("interaction_sighting", schema=None) as batch_op:
        batch_op.create_index("ix_interaction_sighting_key", ["interaction_key"], unique=False)

    op.create_table(
        "mailbox",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("system_user_id", sa.String(), nullable=True),
        sa.Column("data_location", sa.String(), nullable=True),
        sa.Column("location_allowed", sa.Boolean(), nullable=False),
        sa.Column("decision_reason", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("last_attempt_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("last_success_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("syncing_since", storage.types.UTCDateTime(), nullable=True),
        sa.Column("items_ingested", sa.Integer(), nullable=False),
        sa.Column("exchange_since", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailbox_system_user_id"), ["system_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mailbox_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "sync_cursor",
        sa.Column("mailbox_id", sa.String(), nullable=False),
        sa.Column("folder_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("next_link", sa.String(), nullable=True),
        sa.Column("delta_link", sa.String(), nullable=True),
        sa.Column("baseline_complete", sa.Boolean(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("rebaselines", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("mailbox_id", "folder_id"),
    )
    op.create_table(
        "tenant",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("consent_state", sa.String(), nullable=False),
        sa.Column("consent_reason", sa.String(), nullable=True),
        sa.Column("granted_roles", sa.JSON(), nullable=True),
        sa.Column("missing_roles", sa.JSON(), nullable=True),
        sa.Column("consent_checked_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("consent_changed_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("default_data_location", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("tenant")
    op.drop_table("sync_cursor")
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailbox_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_mailbox_system_user_id"))

    op.drop_table("mailbox")
    with op.batch_alter_table("interaction_sighting", schema=None) as batch_op:
        batch_op.drop_index("ix_interaction_sighting_key")

    op.drop_table("interaction_sighting")
