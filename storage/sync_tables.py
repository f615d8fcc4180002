"""Tables of the Exchange path: tenants, mailboxes, delta cursors, sightings.

A mailbox row exists for every directory user Rapport considered, with the
decision taken about it (consent, data residency, scope) and its sync status.
Only users matched to a CRM system user keep an address, and only through
that system user: the mailbox row itself holds the Graph object id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.types import KEY_TEXT, UTCDateTime

CONSENT_STATES = ("granted", "missing", "not_configured", "token_failed", "revoked")
MAILBOX_STATUSES = (
    "never_synced",
    "syncing",
    "ok",
    "throttled",
    "consent_missing",
    "location_excluded",
    "out_of_scope",
    "failed",
    "interrupted",  # the worker was shut down mid-round; the next round resumes
)


def _utc(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable))


class Tenant(SQLModel, table=True):
    __tablename__ = "tenant"

    id: str = Field(primary_key=True)
    consent_state: str = "not_configured"
    consent_reason: str | None = None
    granted_roles: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON()))
    missing_roles: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON()))
    consent_checked_at: datetime | None = _utc()
    consent_changed_at: datetime | None = _utc()
    default_data_location: str | None = None


class Mailbox(SQLModel, table=True):
    __tablename__ = "mailbox"

    id: str = Field(primary_key=True)  # the Graph user id
    tenant_id: str = Field(index=True)
    system_user_id: str | None = Field(default=None, index=True, sa_type=KEY_TEXT)
    data_location: str | None = None
    location_allowed: bool = False
    decision_reason: str | None = None
    status: str = "never_synced"
    last_error: str | None = None
    last_attempt_at: datetime | None = _utc()
    last_success_at: datetime | None = _utc()
    syncing_since: datetime | None = _utc()
    items_ingested: int = 0
    # The earliest time Exchange data covers for this mailbox (its backfill
    # start): CRM-logged emails and meetings of its user after it are not
    # counted twice.
    exchange_since: datetime | None = _utc()


class SyncCursor(SQLModel, table=True):
    """Where the delta sync of one folder (or the calendar) stands.

    `next_link` is set while a round is under way (resume point after a crash),
    `delta_link` once a round completed; both are committed with the rows of
    the page they follow.
    """

    __tablename__ = "sync_cursor"

    mailbox_id: str = Field(primary_key=True)
    folder_id: str = Field(primary_key=True)  # a mail folder id, or "calendar"
    kind: str  # "mail" | "calendar"
    next_link: str | None = None
    delta_link: str | None = None
    baseline_complete: bool = False
    updated_at: datetime | None = _utc()
    # Bumped when the folder is re-baselined; sightings not seen again in the
    # new baseline (round < current) are stale and go when it completes.
    round: int = 0
    rebaselines: int = 0


class InteractionSighting(SQLModel, table=True):
    """One mailbox's copy of an interaction (Graph item ids are per mailbox).

    An `@removed` item deletes only this sighting; the interaction goes when
    no mailbox sees it any more.
    """

    __tablename__ = "interaction_sighting"
    __table_args__ = (sa.Index("ix_interaction_sighting_key", "interaction_key"),)

    mailbox_id: str = Field(primary_key=True)
    item_id: str = Field(primary_key=True)
    interaction_key: str = Field(sa_type=KEY_TEXT)
    folder_id: str
    round: int = 0
