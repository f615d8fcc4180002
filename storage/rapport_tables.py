"""Tables Rapport owns: interactions, KPIs, history, settings, audit.

`interaction` holds one row per real-world conversation event and never its
content: no subject, body, preview, or address of anyone who is not a CRM
record or system user. People are stored as record references in
`interaction_party`, and copied onto their interaction's row for the scoring
read (storage.packed_parties).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.types import KEY_TEXT, UTCDateTime

INTERACTION_KIND_VALUES = ("email", "meeting", "call", "task")
INTERACTION_SOURCE_VALUES = ("crm", "exchange")
DIRECTION_VALUES = ("inbound", "outbound")
SIDE_VALUES = ("internal", "external")


class Interaction(SQLModel, table=True):
    __tablename__ = "interaction"
    # A record's timeline finds what regards it by this index (migration 0010).
    __table_args__ = (sa.Index("ix_interaction_regarding", "regarding_type", "regarding_id"),)

    # "crm:<activity id>", "msg:<internetMessageId>" or "evt:<iCalUId>":
    # the natural key that deduplicates one event seen by several mailboxes.
    key: str = Field(primary_key=True, sa_type=KEY_TEXT)
    source: str
    kind: str
    direction: str
    occurred_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False, index=True))
    duration_minutes: float = 0.0
    conversation_id: str | None = None
    regarding_type: str | None = Field(default=None, sa_type=KEY_TEXT)
    regarding_id: str | None = Field(default=None, sa_type=KEY_TEXT)
    planned: bool = False
    opens: int = 0
    clicks: int = 0
    # Provenance only: looked up through crm_activity_digest, never by this (migration 0018).
    crm_activity_id: str | None = Field(default=None, sa_type=KEY_TEXT)
    # A copy of this interaction's interaction_party rows, packed (storage.packed_parties),
    # kept equal to them by every writer: scoring reads this table alone.
    parties: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    party_count: int = Field(
        default=0, sa_column=sa.Column(sa.Integer(), nullable=False, server_default="0")
    )


class InteractionParty(SQLModel, table=True):
    __tablename__ = "interaction_party"
    __table_args__ = (sa.Index("ix_interaction_party_record", "record_type", "record_id"),)

    interaction_key: str = Field(
        sa_column=sa.Column(
            KEY_TEXT,
            sa.ForeignKey("interaction.key", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    record_type: str = Field(primary_key=True, sa_type=KEY_TEXT)
    record_id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    role: str = Field(primary_key=True, sa_type=KEY_TEXT)
    side: str
    response: str | None = None


class RelationshipKpi(SQLModel, table=True):
    """Lifetime KPIs and the latest health of one CRM record.

    The KPI columns are scoring.model.Kpis's fields, in its order (the one list;
    tests/storage/test_kpi_rows.py fails when they part), then the health.
    """

    __tablename__ = "relationship_kpi"

    record_type: str = Field(primary_key=True, sa_type=KEY_TEXT)
    record_id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    emails_sent: int = 0
    emails_received: int = 0
    meetings_sent: int = 0
    meetings_received: int = 0
    phone_calls_made: int = 0
    phone_calls_received: int = 0
    replies_by_us: int = 0
    replies_by_them: int = 0
    time_spent_by_team_minutes: float = 0.0
    time_spent_by_customer_minutes: float = 0.0
    avg_first_response_by_us_hours: float | None = None
    avg_first_response_by_them_hours: float | None = None
    response_rate_by_us: float | None = None
    response_rate_by_them: float | None = None
    last_activity_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    last_activity_kind: str | None = None
    last_activity_direction: str | None = None
    next_activity_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    next_activity_kind: str | None = None
    email_opens: int = 0
    email_clicks: int = 0
    weekly: list[dict[str, Any]] = Field(default_factory=list, sa_column=sa.Column(sa.JSON()))
    most_contacted: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON())
    )
    computation_accuracy: str = "complete"
    health_score: int | None = None
    health_state: int | None = None
    health_trend: int | None = None
    factors: list[dict[str, Any]] = Field(default_factory=list, sa_column=sa.Column(sa.JSON()))
    reasons: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON()))
    # A deal's or account's key contact with the lowest health score (scoring.rollup):
    # the contact's id, their role on it, their score, when their silence began.
    weakest_contact_id: str | None = Field(default=None, sa_type=KEY_TEXT)
    weakest_contact_role: str | None = None
    weakest_contact_score: int | None = None
    weakest_contact_since: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    computed_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    # A digest of every value above: write-back compares digests, so a run that
    # changes nothing never reads the JSON columns back (storage.writeback).
    kpi_digest: str | None = None


class HealthSnapshot(SQLModel, table=True):
    """One row per record per day: the history a trend chart is drawn from."""

    __tablename__ = "health_snapshot"

    record_type: str = Field(primary_key=True, sa_type=KEY_TEXT)
    record_id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    day: date = Field(primary_key=True)
    health_score: int | None = None
    health_state: int | None = None
    health_trend: int | None = None
    # "won" or "lost" on the day a run found the deal closed: its health as at close.
    closed_as: str | None = None


class RiSetting(SQLModel, table=True):
    """One relationship-analytics admin setting; the value is JSON."""

    __tablename__ = "ri_settings"

    key: str = Field(primary_key=True)
    value: Any = Field(sa_column=sa.Column(sa.JSON(), nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class AuditEvent(SQLModel, table=True):
    """Append-only record of what was done, by which command, to whom."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False, index=True))
    actor: str
    command: str
    action: str
    subject: str | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON()))


class Introducer(SQLModel, table=True):
    """Who knows whom: a colleague ranked by the strength of their relationship
    with one external contact or lead. Only names the colleague and a strength;
    never what was said."""

    __tablename__ = "introducer"
    __table_args__ = (sa.Index("ix_introducer_system_user", "system_user_id"),)

    record_type: str = Field(primary_key=True, sa_type=KEY_TEXT)
    record_id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    system_user_id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    rank: int
    strength: int
    strength_label: str
    last_interaction_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    computed_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class ErasedSubject(SQLModel, table=True):
    """Suppression list: one-way tokens of erased addresses and records.

    The CRM may keep a record Rapport was asked to erase; ingestion, matching
    and scoring check this list so the subject does not come back."""

    __tablename__ = "erased_subject"

    token: str = Field(primary_key=True)
    erased_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


CRM_ACTIVITY_OUTCOMES = ("interaction", "none", "covered", "beyond_retention")


class CrmActivityDigest(SQLModel, table=True):
    """What each CRM activity was derived from last time, and what it became.

    The CRM-data path compares a digest of every input of an activity's
    derivation (its row, its parties, who they matched, the Exchange
    coverage, the retention window) and derives again only the activities
    whose digest moved (storage.crm_ingest). No address is kept here: only
    the CRM's own activity id, a one-way digest, and the interaction key.
    """

    __tablename__ = "crm_activity_digest"

    activity_id: str = Field(primary_key=True, sa_type=KEY_TEXT)
    digest: str
    outcome: str  # one of CRM_ACTIVITY_OUTCOMES
    interaction_key: str | None = Field(default=None, sa_type=KEY_TEXT)
