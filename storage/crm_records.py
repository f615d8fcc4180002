"""Read the CRM records that get a health score, as plain rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.crm_tables import (
    Account,
    Contact,
    Lead,
    Opportunity,
    OpportunityStakeholder,
    SystemUser,
)
from storage.rapport_tables import Interaction, InteractionParty
from storage.types import core_table

USERS, ACCOUNTS, CONTACTS = core_table(SystemUser), core_table(Account), core_table(Contact)
LEADS, OPPORTUNITIES = core_table(Lead), core_table(Opportunity)
STAKEHOLDERS = core_table(OpportunityStakeholder)
INTERACTION, PARTY = core_table(Interaction), core_table(InteractionParty)


@dataclass(frozen=True, slots=True)
class CrmSnapshot:
    """Everything scoring needs to know about the CRM, read in one transaction."""

    users: list[Any]  # rows: id, full_name, team, disabled
    accounts: list[Any]  # rows: id, name, primary_contact_id, created_at
    contacts: list[Any]  # rows: id, full_name, account_id, created_at
    open_leads: list[Any]  # rows: id, full_name, owner_id, created_at
    open_opportunities: list[Any]  # rows: id, name, account_id, owner_id, customer_contact_id, ...
    stakeholders: list[Any]  # rows: opportunity_id, contact_id


def load_crm_snapshot(*, session: Session) -> CrmSnapshot:
    def rows(query: sa.Select[Any]) -> list[Any]:
        return list(session.execute(query))

    return CrmSnapshot(
        users=rows(sa.select(USERS.c.id, USERS.c.full_name, USERS.c.team, USERS.c.disabled)),
        accounts=rows(
            sa.select(
                ACCOUNTS.c.id, ACCOUNTS.c.name, ACCOUNTS.c.primary_contact_id, ACCOUNTS.c.created_at
            )
        ),
        contacts=rows(
            sa.select(
                CONTACTS.c.id, CONTACTS.c.full_name, CONTACTS.c.account_id, CONTACTS.c.created_at
            )
        ),
        open_leads=rows(
            sa.select(LEADS.c.id, LEADS.c.full_name, LEADS.c.owner_id, LEADS.c.created_at).where(
                LEADS.c.status == "open"
            )
        ),
        open_opportunities=rows(
            sa.select(
                OPPORTUNITIES.c.id,
                OPPORTUNITIES.c.name,
                OPPORTUNITIES.c.account_id,
                OPPORTUNITIES.c.owner_id,
                OPPORTUNITIES.c.customer_contact_id,
                OPPORTUNITIES.c.created_at,
            ).where(OPPORTUNITIES.c.status == "open")
        ),
        stakeholders=rows(sa.select(STAKEHOLDERS.c.opportunity_id, STAKEHOLDERS.c.contact_id)),
    )


INTERACTION_COLUMNS = (
    "key", "kind", "direction", "occurred_at", "duration_minutes", "conversation_id",
    "regarding_type", "regarding_id", "planned", "opens", "clicks",
)  # fmt: skip
PARTY_COLUMNS = ("interaction_key", "record_type", "record_id", "role", "side", "response")
BATCH = 20_000


def _sqlite_time(value: str) -> datetime:
    # SQLite keeps naive UTC text (storage.types.UTCDateTime).
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _raw_rows(session: Session, table: str, columns: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    """Rows straight from the driver: this read feeds scoring a million rows at a time,
    and SQLAlchemy's per-row result processing would cost more than the read itself."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")
        while rows := cursor.fetchmany(BATCH):
            yield from rows
    finally:
        cursor.close()


def iter_interaction_rows(*, session: Session) -> Iterator[tuple[Any, ...]]:
    """Interactions for scoring, streamed, as tuples in INTERACTION_COLUMNS order."""
    rows = _raw_rows(session, "interaction", INTERACTION_COLUMNS)
    if session.connection().dialect.name != "sqlite":
        yield from rows  # psycopg returns timezone-aware datetimes already
        return
    for row in rows:
        yield (*row[:3], _sqlite_time(row[3]), *row[4:])


def iter_party_rows(*, session: Session) -> Iterator[tuple[Any, ...]]:
    """Interaction parties as tuples in PARTY_COLUMNS order."""
    return _raw_rows(session, "interaction_party", PARTY_COLUMNS)
