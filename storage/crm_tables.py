"""The CRM store contract: tables the CRM owns (docs/crm-contract.md).

The CRM writes every column here except the `health_*` columns, which belong
to Rapport. Identifiers are the CRM's own (strings, typically GUIDs).
Vocabulary columns are plain strings so that a CRM can write them without our
enums; the allowed values are the `*_VALUES` tuples below and ingestion
rejects a row carrying anything else, naming the column.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.types import KEY_TEXT, UTCDateTime, core_table

LEAD_STATUS_VALUES = ("open", "qualified", "disqualified")
OPPORTUNITY_STATUS_VALUES = ("open", "won", "lost")
ACTIVITY_KIND_VALUES = ("email", "appointment", "phone_call", "task")
ACTIVITY_DIRECTION_VALUES = ("incoming", "outgoing")
ACTIVITY_STATUS_VALUES = ("completed", "open", "cancelled")
PARTY_ROLE_VALUES = ("from", "to", "cc", "bcc", "organizer", "required", "optional")
PARTY_RECORD_TYPE_VALUES = ("system_user", "contact", "lead")
PARTY_RESPONSE_VALUES = ("accepted", "tentative", "declined", "none")
REGARDING_TYPE_VALUES = ("contact", "lead", "opportunity", "account")


def _utc(nullable: bool = True, index: bool = False) -> sa.Column[datetime]:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


class HealthColumns(SQLModel):
    """Written by Rapport on every scored CRM record (docs/crm-contract.md)."""

    health_score: int | None = None
    health_state: int | None = None
    health_trend: int | None = None
    health_updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SystemUser(SQLModel, table=True):
    __tablename__ = "system_user"

    id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    email: str = Field(index=True)
    full_name: str
    team: str | None = None
    disabled: bool = False


class Account(HealthColumns, table=True):
    __tablename__ = "account"

    id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    name: str
    primary_contact_id: str | None = Field(default=None, sa_type=KEY_TEXT)
    owner_id: str | None = Field(default=None, sa_type=KEY_TEXT)
    created_at: datetime | None = Field(default=None, sa_column=_utc())


class Contact(HealthColumns, table=True):
    __tablename__ = "contact"

    id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    full_name: str
    email: str | None = Field(default=None, index=True)
    email2: str | None = None
    email3: str | None = None
    account_id: str | None = Field(default=None, index=True, sa_type=KEY_TEXT)
    created_at: datetime | None = Field(default=None, sa_column=_utc())


class Lead(HealthColumns, table=True):
    __tablename__ = "lead"

    id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    full_name: str
    email: str | None = Field(default=None, index=True)
    company_name: str | None = None
    status: str = "open"
    owner_id: str | None = Field(default=None, sa_type=KEY_TEXT)
    created_at: datetime | None = Field(default=None, sa_column=_utc())


class Opportunity(HealthColumns, table=True):
    __tablename__ = "opportunity"

    id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    name: str
    account_id: str | None = Field(default=None, index=True, sa_type=KEY_TEXT)
    owner_id: str | None = Field(default=None, sa_type=KEY_TEXT)
    customer_contact_id: str | None = Field(default=None, sa_type=KEY_TEXT)
    status: str = "open"
    estimated_revenue: float | None = None
    estimated_close_date: date | None = None
    actual_close_date: date | None = None
    created_at: datetime | None = Field(default=None, sa_column=_utc())


class OpportunityStakeholder(SQLModel, table=True):
    __tablename__ = "opportunity_stakeholder"

    opportunity_id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    contact_id: str = Field(primary_key=True, index=True, sa_type=KEY_TEXT)
    role: str | None = None


class CrmActivity(SQLModel, table=True):
    __tablename__ = "crm_activity"

    id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    kind: str
    owner_id: str | None = Field(default=None, sa_type=KEY_TEXT)
    direction: str | None = None
    status: str = "completed"
    start_at: datetime | None = Field(default=None, sa_column=_utc())
    end_at: datetime | None = Field(default=None, sa_column=_utc())
    regarding_type: str | None = Field(default=None, sa_type=KEY_TEXT)
    regarding_id: str | None = Field(default=None, sa_type=KEY_TEXT)
    conversation_id: str | None = None
    # Lets an email logged in the CRM and also seen in Exchange count once.
    internet_message_id: str | None = Field(default=None, index=True)
    opens: int = 0
    clicks: int = 0
    modified_at: datetime | None = Field(default=None, sa_column=_utc())


# An activity's time, as the rules take it: a tick reads the activities whose time
# crossed a moving bound (storage.crm_ingest) by a range scan of this (migration 0016).
# PostgreSQL only: SQLite keeps the CRM's text, compared by day, and its stores are small.
_ACTIVITY = core_table(CrmActivity)
sa.Index(
    "ix_crm_activity_occurred_at", sa.func.coalesce(_ACTIVITY.c.start_at, _ACTIVITY.c.end_at)
).ddl_if(dialect="postgresql")


class CrmActivityParty(SQLModel, table=True):
    __tablename__ = "crm_activity_party"

    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(index=True, sa_type=KEY_TEXT)
    role: str
    address: str | None = None
    record_type: str | None = Field(default=None, sa_type=KEY_TEXT)
    record_id: str | None = Field(default=None, sa_type=KEY_TEXT)
    response: str | None = None
