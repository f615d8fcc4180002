"""Read the CRM records that get a health score, as plain rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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
from storage.raw_rows import is_sqlite, raw_rows, sqlite_time
from storage.suppression import without_erased
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

    snapshot = CrmSnapshot(
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
    # Erased subjects (storage.suppression) get no KPIs, history or health, even while
    # the CRM still holds them.
    return without_erased(snapshot, session=session)


INTERACTION_COLUMNS = (
    "key", "kind", "direction", "occurred_at", "duration_minutes", "conversation_id",
    "regarding_type", "regarding_id", "planned", "opens", "clicks",
)  # fmt: skip
PARTY_COLUMNS = ("interaction_key", "record_type", "record_id", "role", "side", "response")

# Parties travel packed into one text column: parties joined by PARTY_SEPARATOR,
# each "side, record_type, role, response, record_id" joined by FIELD_SEPARATOR
# (record_id last, so a separator inside an id cannot shift the other fields).
# A million interactions share a few ten thousand distinct party sets, so the
# reader decodes each distinct packed value once instead of one row per party.
PARTY_SEPARATOR, FIELD_SEPARATOR = "\x1e", "\x1f"
_PACKED = " || '\x1f' || ".join(
    ("side", "record_type", "role", "coalesce(response, '')", "record_id")
)
_AGGREGATE = {
    "postgresql": f"string_agg({_PACKED}, '\x1e')",
    "sqlite": f"group_concat({_PACKED}, '\x1e')",
}


def _interaction_times(
    session: Session, rows: Iterator[tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    if not is_sqlite(session):
        return rows  # psycopg returns timezone-aware datetimes already
    return ((*row[:3], sqlite_time(row[3]), *row[4:]) for row in rows)


def iter_interaction_rows(*, session: Session) -> Iterator[tuple[Any, ...]]:
    """Interactions as tuples in INTERACTION_COLUMNS order, streamed."""
    query = f"SELECT {', '.join(INTERACTION_COLUMNS)} FROM interaction"
    return _interaction_times(session, raw_rows(session, query))


def iter_interactions_with_parties(*, session: Session) -> Iterator[tuple[Any, ...]]:
    """Interactions in INTERACTION_COLUMNS order, then packed parties (or None) and their count.

    The database groups the party rows: one round of rows instead of two,
    and no per-party work in Python (see PARTY_SEPARATOR).
    """
    aggregate = _AGGREGATE[session.connection().dialect.name]
    columns = ", ".join(f"i.{name}" for name in INTERACTION_COLUMNS)
    query = (
        f"SELECT {columns}, p.parties, p.party_count FROM interaction i LEFT JOIN ("
        f"SELECT interaction_key, {aggregate} AS parties, count(*) AS party_count "
        "FROM interaction_party "
        "GROUP BY interaction_key) p ON p.interaction_key = i.key"
    )
    return _interaction_times(session, raw_rows(session, query))


def iter_party_rows(
    *, session: Session, interaction_key: str | None = None
) -> Iterator[tuple[Any, ...]]:
    """Interaction parties as tuples in PARTY_COLUMNS order; all, or one interaction's."""
    query = f"SELECT {', '.join(PARTY_COLUMNS)} FROM interaction_party"
    if interaction_key is None:
        return raw_rows(session, query)
    marker = "?" if is_sqlite(session) else "%s"
    return raw_rows(session, f"{query} WHERE interaction_key = {marker}", (interaction_key,))
