"""initial schema: CRM contract and Rapport tables

Revision ID: 0001
Revises:
Create Date: 2026-11-23 00:28:12.465109
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("primary_contact_id", sa.String(), nullable=True),
        sa.Column("owner_id", sa.String(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("health_score", sa.Integer(), nullable=True),
        sa.Column("health_state", sa.Integer(), nullable=True),
        sa.Column("health_trend", sa.Integer(), nullable=True),
        sa.Column("health_updated_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)

    op.create_table(
        "contact",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("full_name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("email2", sa.String(), nullable=True),
        sa.Column("email3", sa.String(), nullable=True),
        sa.Column("account_id", sa.String(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("health_score", sa.Integer(), nullable=True),
        sa.Column("health_state", sa.Integer(), nullable=True),
        sa.Column("health_trend", sa.Integer(), nullable=True),
        sa.Column("health_updated_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_email"), ["email"], unique=False)

    op.create_table(
        "crm_activity",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("owner_id", sa.String(), nullable=True),
        sa.Column("direction", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("start_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("end_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("regarding_type", sa.String(), nullable=True),
        sa.Column("regarding_id", sa.String(), nullable=True),
        sa.Column("conversation_id", sa.String(), nullable=True),
        sa.Column("internet_message_id", sa.String(), nullable=True),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("modified_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("crm_activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_activity_internet_message_id"), ["internet_message_id"], unique=False
        )

    op.create_table(
        "crm_activity_party",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("record_type", sa.String(), nullable=True),
        sa.Column("record_id", sa.String(), nullable=True),
        sa.Column("response", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("crm_activity_party", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_activity_party_activity_id"), ["activity_id"], unique=False
        )

    op.create_table(
        "health_snapshot",
        sa.Column("record_type", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("health_score", sa.Integer(), nullable=True),
        sa.Column("health_state", sa.Integer(), nullable=True),
        sa.Column("health_trend", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("record_type", "record_id", "day"),
    )
    op.create_table(
        "interaction",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("occurred_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("duration_minutes", sa.Float(), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=True),
        sa.Column("regarding_type", sa.String(), nullable=True),
        sa.Column("regarding_id", sa.String(), nullable=True),
        sa.Column("planned", sa.Boolean(), nullable=False),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("crm_activity_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_interaction_crm_activity_id"), ["crm_activity_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_interaction_occurred_at"), ["occurred_at"], unique=False
        )

    op.create_table(
        "lead",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("full_name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("company_name", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("owner_id", sa.String(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("health_score", sa.Integer(), nullable=True),
        sa.Column("health_state", sa.Integer(), nullable=True),
        sa.Column("health_trend", sa.Integer(), nullable=True),
        sa.Column("health_updated_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_email"), ["email"], unique=False)

    op.create_table(
        "opportunity",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=True),
        sa.Column("owner_id", sa.String(), nullable=True),
        sa.Column("customer_contact_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("estimated_revenue", sa.Float(), nullable=True),
        sa.Column("estimated_close_date", sa.Date(), nullable=True),
        sa.Column("actual_close_date", sa.Date(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("health_score", sa.Integer(), nullable=True),
        sa.Column("health_state", sa.Integer(), nullable=True),
        sa.Column("health_trend", sa.Integer(), nullable=True),
        sa.Column("health_updated_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("opportunity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opportunity_account_id"), ["account_id"], unique=False)

    op.create_table(
        "opportunity_stakeholder",
        sa.Column("opportunity_id", sa.String(), nullable=False),
        sa.Column("contact_id", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("opportunity_id", "contact_id"),
    )
    with op.batch_alter_table("opportunity_stakeholder", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunity_stakeholder_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "relationship_kpi",
        sa.Column("record_type", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("emails_sent", sa.Integer(), nullable=False),
        sa.Column("emails_received", sa.Integer(), nullable=False),
        sa.Column("meetings_sent", sa.Integer(), nullable=False),
        sa.Column("meetings_received", sa.Integer(), nullable=False),
        sa.Column("phone_calls_made", sa.Integer(), nullable=False),
        sa.Column("phone_calls_received", sa.Integer(), nullable=False),
        sa.Column("replies_by_us", sa.Integer(), nullable=False),
        sa.Column("replies_by_them", sa.Integer(), nullable=False),
        sa.Column("time_spent_by_team_minutes", sa.Float(), nullable=False),
        sa.Column("time_spent_by_customer_minutes", sa.Float(), nullable=False),
        sa.Column("avg_first_response_by_us_hours", sa.Float(), nullable=True),
        sa.Column("avg_first_response_by_them_hours", sa.Float(), nullable=True),
        sa.Column("response_rate_by_us", sa.Float(), nullable=True),
        sa.Column("response_rate_by_them", sa.Float(), nullable=True),
        sa.Column("last_activity_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("last_activity_kind", sa.String(), nullable=True),
        sa.Column("last_activity_direction", sa.String(), nullable=True),
        sa.Column("next_activity_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("next_activity_kind", sa.String(), nullable=True),
        sa.Column("email_opens", sa.Integer(), nullable=False),
        sa.Column("email_clicks", sa.Integer(), nullable=False),
        sa.Column("weekly", sa.JSON(), nullable=True),
        sa.Column("most_contacted", sa.JSON(), nullable=True),
        sa.Column("computation_accuracy", sa.String(), nullable=False),
        sa.Column("health_score", sa.Integer(), nullable=True),
        sa.Column("health_state", sa.Integer(), nullable=True),
        sa.Column("health_trend", sa.Integer(), nullable=True),
        sa.Column("factors", sa.JSON(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=True),
        sa.Column("computed_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("record_type", "record_id"),
    )
    op.create_table(
        "ri_settings",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "system_user",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("full_name", sa.String(), nullable=False),
        sa.Column("team", sa.String(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("system_user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_system_user_email"), ["email"], unique=False)

    op.create_table(
        "interaction_party",
        sa.Column("interaction_key", sa.String(), nullable=False),
        sa.Column("record_type", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("side", sa.String(), nullable=False),
        sa.Column("response", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["interaction_key"], ["interaction.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("interaction_key", "record_type", "record_id", "role"),
    )
    with op.batch_alter_table("interaction_party", schema=None) as batch_op:
        batch_op.create_index(
            "ix_interaction_party_record", ["record_type", "record_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("interaction_party", schema=None) as batch_op:
        batch_op.drop_index("ix_interaction_party_record")

    op.drop_table("interaction_party")
    with op.batch_alter_table("system_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_system_user_email"))

    op.drop_table("system_user")
    op.drop_table("ri_settings")
    op.drop_table("relationship_kpi")
    with op.batch_alter_table("opportunity_stakeholder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opportunity_stakeholder_contact_id"))

    op.drop_table("opportunity_stakeholder")
    with op.batch_alter_table("opportunity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opportunity_account_id"))

    op.drop_table("opportunity")
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_email"))

    op.drop_table("lead")
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interaction_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_interaction_crm_activity_id"))

    op.drop_table("interaction")
    op.drop_table("health_snapshot")
    with op.batch_alter_table("crm_activity_party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_activity_party_activity_id"))

    op.drop_table("crm_activity_party")
    with op.batch_alter_table("crm_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_activity_internet_message_id"))

    op.drop_table("crm_activity")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_email"))
        batch_op.drop_index(batch_op.f("ix_contact_account_id"))

    op.drop_table("contact")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))

    op.drop_table("audit_event")
    op.drop_table("account")
