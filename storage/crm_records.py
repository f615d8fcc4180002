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
from storage.engine import is_sqlite
from storage.packed_parties import FIELD_SEPARATOR as FIELD_SEPARATOR
from storage.packed_parties import PACKED_COLUMNS
from storage.packed_parties import PARTY_SEPARATOR as PARTY_SEPARATOR
from storage.raw_rows import raw_rows, sqlite_time
from storage.suppression import without_erased
from storage.types import core_table

USERS, ACCOUNTS, CONTACTS = core_table(SystemUser), core_table(Account), core_table(Contact)
LEADS, OPPORTUNITIES = core_table(Lead), core_table(Opportunity)
STAKEHOLDERS = core_table(OpportunityStakeholder)


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
    """Each list in primary-key order, whatever order the database keeps its rows in.

    Everything downstream follows this order (scopes, the split into scoring
    shares, the write-back's batches), so a run over an unchanged CRM does
    the same work in the same order every time; without it an update that
    moved rows on disk would reshuffle the next run.
    """

    def rows(
        table: sa.Table, *columns: str, where: sa.ColumnElement[bool] | None = None
    ) -> list[Any]:
        query = sa.select(*(table.c[name] for name in columns))
        if where is not None:
            query = query.where(where)
        return list(session.execute(query.order_by(*table.primary_key.columns)))

    snapshot = CrmSnapshot(
        users=rows(USERS, "id", "full_name", "team", "disabled"),
        accounts=rows(ACCOUNTS, "id", "name", "primary_contact_id", "created_at"),
        contacts=rows(CONTACTS, "id", "full_name", "account_id", "created_at"),
        open_leads=rows(
            LEADS, "id", "full_name", "owner_id", "created_at", where=LEADS.c.status == "open"
        ),
        open_opportunities=rows(
            OPPORTUNITIES,
            "id",
            "name",
            "account_id",
            "owner_id",
            "customer_contact_id",
            "created_at",
            where=OPPORTUNITIES.c.status == "open",
        ),
        stakeholders=rows(STAKEHOLDERS, "opportunity_id", "contact_id"),
    )
    # Erased subjects (storage.suppression) get no KPIs, history or health, even while
    # the CRM still holds them.
    return without_erased(snapshot, session=session)


INTERACTION_COLUMNS = (
    "key", "kind", "direction", "occurred_at", "duration_minutes", "conversation_id",
    "regarding_type", "regarding_id", "planned", "opens", "clicks",
)  # fmt: skip
PARTY_COLUMNS = ("interaction_key", "record_type", "record_id", "role", "side", "response")
# Parties travel packed into one text column of the interaction row
# (storage.packed_parties); FIELD_SEPARATOR and PARTY_SEPARATOR are imported
# here for the readers of iter_interactions_with_parties.


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

    One plain read of `interaction`: its rows carry a copy of their party rows
    (storage.packed_parties), so nothing is joined or grouped.
    """
    columns = ", ".join((*INTERACTION_COLUMNS, *PACKED_COLUMNS))
    return _interaction_times(session, raw_rows(session, f"SELECT {columns} FROM interaction"))


def iter_party_rows(
    *, session: Session, interaction_key: str | None = None
) -> Iterator[tuple[Any, ...]]:
    """Interaction parties as tuples in PARTY_COLUMNS order; all, or one interaction's."""
    query = f"SELECT {', '.join(PARTY_COLUMNS)} FROM interaction_party"
    if interaction_key is None:
        return raw_rows(session, query)
    marker = "?" if is_sqlite(session) else "%s"
    return raw_rows(session, f"{query} WHERE interaction_key = {marker}", (interaction_key,))
