"""Reads behind the seller insights (insights/): list views, the pipeline chart, timelines.

Each read is one query shaped for its view, never a query per row:

- `view_rows`: one query per record type over the record table, its stored
  KPIs (relationship_kpi's primary key) and the owner's name, without the JSON
  columns: a view sorts and limits these small rows first (insights.views);
- `view_details` (one type) and `rows_details` (rows of any types): the JSON
  columns (weekly timeline, reasons) of the rows shown;
- `record_people` and `record_interactions`: a record's interactions newest
  first, through the party index and the "regarding" index, bounded;
- `interaction_parties`: who took part in those interactions, with names
  (`timeline_interactions`: the three for one record's timeline).

A contact has no owner of its own in the CRM contract: its owner here is the
owner of its account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.crm_tables import OpportunityStakeholder, SystemUser
from storage.directory import normalise_address
from storage.health_read import NAME_COLUMN
from storage.rapport_tables import Interaction, InteractionParty, RelationshipKpi
from storage.types import core_table
from storage.writeback import RECORD_TABLES

KPI = core_table(RelationshipKpi)
USER = core_table(SystemUser)
STAKEHOLDER = core_table(OpportunityStakeholder)
INTERACTION = core_table(Interaction)
PARTY = core_table(InteractionParty)
# Bound parameter lists (IN) per statement: well under SQLite's and PostgreSQL's limits.
CHUNK = 500
KPI_COLUMNS = (
    "health_score",
    "health_state",
    "health_trend",
    "last_activity_at",
    "last_activity_kind",
    "last_activity_direction",
    "next_activity_at",
    "next_activity_kind",
    "response_rate_by_them",
    "computed_at",
    "weakest_contact_id",
    "weakest_contact_role",
    "weakest_contact_score",
)


def find_user(*, session: Session, user: str) -> tuple[str, str] | None:
    """A system user named by id or email address, as (id, full name)."""
    query = sa.select(USER.c.id, USER.c.full_name)
    found = session.execute(query.where(USER.c.id == user)).first()
    if found is None and "@" in user:
        wanted = normalise_address(user)
        found = session.execute(
            query.where(sa.func.lower(sa.func.trim(USER.c.email)) == wanted).order_by(USER.c.id)
        ).first()
    return None if found is None else (found.id, found.full_name)


def _owner_column(record_type: str, table: sa.Table) -> tuple[sa.ColumnElement[Any], sa.FromClause]:
    """The owner id column of a record type and the table it is read from."""
    if record_type != "contact":
        return table.c.owner_id, table
    accounts = RECORD_TABLES["account"].alias("owning_account")
    return accounts.c.owner_id, accounts


def record_owner(*, session: Session, record_type: str, row: Mapping[str, Any]) -> str | None:
    """The owner of a record already read (health_read.load_record), as the views have
    it: a contact's is its account's owner."""
    if record_type != "contact":
        owner: str | None = row.get("owner_id")
        return owner
    if not row.get("account_id"):
        return None
    accounts = RECORD_TABLES["account"]
    found: str | None = session.scalar(
        sa.select(accounts.c.owner_id).where(accounts.c.id == row["account_id"])
    )
    return found


def _type_columns(record_type: str, table: sa.Table) -> list[sa.ColumnElement[Any]]:
    nothing = sa.null()
    status = table.c.status if record_type in ("lead", "opportunity") else nothing
    deal = record_type == "opportunity"
    return [
        status.label("status"),
        (table.c.estimated_revenue if deal else nothing).label("estimated_revenue"),
        (table.c.estimated_close_date if deal else nothing).label("estimated_close_date"),
    ]


def view_rows(
    *,
    session: Session,
    record_type: str,
    owner_id: str | None = None,
    owner_ids: Iterable[str] | None = None,
    open_only: bool = False,
    states: Iterable[int] | None = None,
) -> list[dict[str, Any]]:
    """Records of one type with their stored health and scalar KPIs (an unscored
    record has None in every KPI column), narrowed by owner, by a set of owners
    (`owner_ids`: a record with no owner is in no set), status and state."""
    table = RECORD_TABLES[record_type]
    owner, owner_source = _owner_column(record_type, table)
    owners = USER.alias("owner")
    joined = table.outerjoin(
        KPI, (KPI.c.record_type == record_type) & (KPI.c.record_id == table.c.id)
    )
    if owner_source is not table:
        joined = joined.outerjoin(owner_source, owner_source.c.id == table.c.account_id)
    joined = joined.outerjoin(owners, owners.c.id == owner)
    query = sa.select(
        sa.literal(record_type).label("record_type"),
        table.c.id.label("record_id"),
        table.c[NAME_COLUMN[record_type]].label("name"),
        owner.label("owner_id"),
        owners.c.full_name.label("owner_name"),
        *_type_columns(record_type, table),
        *(KPI.c[name] for name in KPI_COLUMNS),
    ).select_from(joined)
    if owner_id is not None:
        query = query.where(owner == owner_id)
    if owner_ids is not None:
        query = query.where(owner.in_(sorted(owner_ids)))
    if open_only and record_type in ("lead", "opportunity"):
        query = query.where(table.c.status == "open")
    if states is not None:
        query = query.where(KPI.c.health_state.in_(sorted(states)))
    return [row._asdict() for row in session.execute(query)]


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def view_details(
    *, session: Session, record_type: str, record_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The weekly timeline, reasons and weakest contact's name of the rows shown."""
    contacts = RECORD_TABLES["contact"]
    details: dict[str, dict[str, Any]] = {}
    for ids in _chunks(list(record_ids)):
        query = (
            sa.select(
                KPI.c.record_id,
                KPI.c.weekly,
                KPI.c.reasons,
                contacts.c.full_name.label("weakest_contact_name"),
            )
            .outerjoin(contacts, contacts.c.id == KPI.c.weakest_contact_id)
            .where(KPI.c.record_type == record_type, KPI.c.record_id.in_(ids))
        )
        for row in session.execute(query):
            details[row.record_id] = row._asdict()
    return details


def first_reasons(
    *, session: Session, record_type: str, record_ids: Sequence[str]
) -> dict[str, str | None]:
    """Each record's first stored reason (the pipeline's hover text), read out of the
    JSON by the database: no weekly timeline, no whole list to decode."""
    first = KPI.c.reasons[0].as_string()
    found: dict[str, str | None] = {}
    for ids in _chunks(list(record_ids)):
        query = sa.select(KPI.c.record_id, first).where(
            KPI.c.record_type == record_type, KPI.c.record_id.in_(ids)
        )
        for record_id, reason in session.execute(query):
            found[record_id] = reason
    return found


def rows_details(
    *, session: Session, rows: Iterable[Mapping[str, Any]], weakest: bool = True
) -> dict[tuple[str, str], dict[str, Any]]:
    """`view_details` of rows of any record types, keyed by (record_type, record_id):
    one query per CHUNK rows whatever their types; `weakest=False` leaves out the
    weakest contact's name (and its join) for a view that does not show it."""
    contacts = RECORD_TABLES["contact"]
    keys = [(row["record_type"], row["record_id"]) for row in rows]
    columns = [KPI.c.record_type, KPI.c.record_id, KPI.c.weekly, KPI.c.reasons]
    details: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(keys), CHUNK):
        query = sa.select(
            *columns, *([contacts.c.full_name.label("weakest_contact_name")] if weakest else [])
        ).where(sa.tuple_(KPI.c.record_type, KPI.c.record_id).in_(keys[start : start + CHUNK]))
        if weakest:
            query = query.outerjoin(contacts, contacts.c.id == KPI.c.weakest_contact_id)
        for found in session.execute(query):
            details[(found.record_type, found.record_id)] = found._asdict()
    return details


def record_people(*, session: Session, record_type: str, record_id: str) -> list[tuple[str, str]]:
    """The people whose interactions make up a record's timeline (docs/insights.md):
    a contact or lead itself; a deal's customer contact, stakeholders and its
    account's primary contact; an account's contacts and primary contact."""
    if record_type in ("contact", "lead"):
        return [(record_type, record_id)]
    contacts, accounts = RECORD_TABLES["contact"], RECORD_TABLES["account"]
    if record_type == "account":
        ids = set(
            session.scalars(sa.select(contacts.c.id).where(contacts.c.account_id == record_id))
        )
        primary = session.scalar(
            sa.select(accounts.c.primary_contact_id).where(accounts.c.id == record_id)
        )
    else:
        deals = RECORD_TABLES["opportunity"]
        deal = session.execute(
            sa.select(deals.c.customer_contact_id, accounts.c.primary_contact_id)
            .outerjoin(accounts, accounts.c.id == deals.c.account_id)
            .where(deals.c.id == record_id)
        ).first()
        ids = set(
            session.scalars(
                sa.select(STAKEHOLDER.c.contact_id).where(STAKEHOLDER.c.opportunity_id == record_id)
            )
        )
        if deal is not None and deal.customer_contact_id:
            ids.add(deal.customer_contact_id)
        primary = None if deal is None else deal.primary_contact_id
    if primary:
        ids.add(primary)
    return [("contact", contact_id) for contact_id in sorted(ids)]


def record_team(*, session: Session, record_type: str, record_id: str) -> list[str] | None:
    """Our colleagues whose interactions count for a deal or lead, as scoring has them
    (worker.run.scopes): a deal's owner and everyone in the owner's team, a lead's owner;
    None (anyone of ours) for contacts, accounts, and an owner who is no system user."""
    if record_type not in ("opportunity", "lead"):
        return None
    table = RECORD_TABLES[record_type]
    owner = session.execute(
        sa.select(USER.c.id, USER.c.team)
        .join(table, table.c.owner_id == USER.c.id)
        .where(table.c.id == record_id)
    ).first()
    if owner is None:
        return None
    if record_type == "lead" or not owner.team:
        return [owner.id]
    return list(session.scalars(sa.select(USER.c.id).where(USER.c.team == owner.team)))


def record_interactions(
    *,
    session: Session,
    record_type: str,
    record_id: str,
    people: Sequence[tuple[str, str]],
    team: Sequence[str] | None,
    since: datetime,
    limit: int,
) -> list[dict[str, Any]]:
    """Interactions regarding the record, or with one of `people` on the customer's
    side (and, when `team` is given, one of them on ours): the record's scope as
    scoring counts it. Since `since`, newest first, at most `limit`, metadata only."""
    ours = PARTY.alias("ours")
    selects: list[sa.Select[Any]] = [
        sa.select(INTERACTION.c.key.label("interaction_key")).where(
            INTERACTION.c.regarding_type == record_type, INTERACTION.c.regarding_id == record_id
        )
    ]
    by_type: dict[str, list[str]] = {}
    for person_type, person_id in people:
        by_type.setdefault(person_type, []).append(person_id)
    for person_type, ids in by_type.items():
        with_them = sa.select(PARTY.c.interaction_key).where(
            PARTY.c.side == "external",
            PARTY.c.record_type == person_type,
            PARTY.c.record_id.in_(ids),
        )
        if team is not None:  # per candidate, by the party table's primary key
            with_them = with_them.where(
                sa.exists().where(
                    ours.c.interaction_key == PARTY.c.interaction_key,
                    ours.c.side == "internal",
                    ours.c.record_id.in_(team),
                )
            )
        selects.append(with_them)
    keys = selects[0] if len(selects) == 1 else sa.union(*selects)
    query = (
        sa.select(
            INTERACTION.c.key,
            INTERACTION.c.kind,
            INTERACTION.c.direction,
            INTERACTION.c.occurred_at,
            INTERACTION.c.duration_minutes,
            INTERACTION.c.planned,
            INTERACTION.c.source,
        )
        .where(INTERACTION.c.key.in_(keys), INTERACTION.c.occurred_at >= since)
        .order_by(INTERACTION.c.occurred_at.desc(), INTERACTION.c.key)
        .limit(limit)
    )
    return [row._asdict() for row in session.execute(query)]


def interaction_parties(*, session: Session, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Who took part in these interactions: side, role, record and its name (a CRM
    person's or system user's full name; None when the record is gone)."""
    named = {
        "contact": RECORD_TABLES["contact"],
        "lead": RECORD_TABLES["lead"],
        "system_user": USER,
    }
    found: list[dict[str, Any]] = []
    for chunk in _chunks(list(keys)):
        joined: sa.FromClause = PARTY
        names = []
        for record_type, table in named.items():
            alias = table.alias(f"named_{record_type}")
            joined = joined.outerjoin(
                alias, (PARTY.c.record_type == record_type) & (alias.c.id == PARTY.c.record_id)
            )
            names.append(alias.c.full_name)
        query = (
            sa.select(
                PARTY.c.interaction_key,
                PARTY.c.side,
                PARTY.c.role,
                PARTY.c.record_type,
                PARTY.c.record_id,
                sa.func.coalesce(*names).label("name"),
            )
            .select_from(joined)
            .where(PARTY.c.interaction_key.in_(chunk))
        )
        found += [row._asdict() for row in session.execute(query)]
    return found


def timeline_interactions(
    *, session: Session, record_type: str, record_id: str, since: datetime, limit: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A record's interactions in its scope (`record_people`, `record_team`) since
    `since`, newest first, at most `limit`, and who took part in them."""
    found = record_interactions(
        session=session,
        record_type=record_type,
        record_id=record_id,
        people=record_people(session=session, record_type=record_type, record_id=record_id),
        team=record_team(session=session, record_type=record_type, record_id=record_id),
        since=since,
        limit=limit,
    )
    return found, interaction_parties(session=session, keys=[item["key"] for item in found])


def weekly_timeline(*, session: Session, record_type: str, record_id: str) -> dict[str, Any] | None:
    """The stored weekly KPI timeline and last activity of one record (None: never scored)."""
    query = sa.select(
        KPI.c.weekly,
        KPI.c.computed_at,
        KPI.c.last_activity_at,
        KPI.c.health_score,
        KPI.c.health_state,
        KPI.c.health_trend,
    ).where(KPI.c.record_type == record_type, KPI.c.record_id == record_id)
    row = session.execute(query).first()
    return None if row is None else row._asdict()
