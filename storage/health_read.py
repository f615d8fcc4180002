"""Reading back the health of one record (for `rapport health show` and exports)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.directory import normalise_address
from storage.rapport_tables import HealthSnapshot, RelationshipKpi
from storage.types import core_table
from storage.writeback import RECORD_TABLES

KPI = core_table(RelationshipKpi)
SNAPSHOT = core_table(HealthSnapshot)
NAME_COLUMN = {
    "contact": "full_name",
    "lead": "full_name",
    "opportunity": "name",
    "account": "name",
}


def find_by_address(*, session: Session, address: str) -> list[tuple[str, str]]:
    """Contacts and leads whose address matches, as (record_type, record_id)."""
    wanted = normalise_address(address)
    found = []
    for record_type, columns in (("contact", ("email", "email2", "email3")), ("lead", ("email",))):
        table = RECORD_TABLES[record_type]
        matches = sa.or_(*(sa.func.lower(sa.func.trim(table.c[c])) == wanted for c in columns))
        found += [
            (record_type, rid) for rid in session.scalars(sa.select(table.c.id).where(matches))
        ]
    return found


def load_record(*, session: Session, record_type: str, record_id: str) -> dict[str, Any] | None:
    table = RECORD_TABLES[record_type]
    row = session.execute(sa.select(table).where(table.c.id == record_id)).first()
    if row is None:
        return None
    record = row._asdict()
    record["display_name"] = record[NAME_COLUMN[record_type]]
    return record


def load_kpi(*, session: Session, record_type: str, record_id: str) -> dict[str, Any] | None:
    query = sa.select(KPI).where(KPI.c.record_type == record_type, KPI.c.record_id == record_id)
    row = session.execute(query).first()
    return None if row is None else row._asdict()


def load_history(*, session: Session, record_type: str, record_id: str) -> list[dict[str, Any]]:
    query = (
        sa.select(SNAPSHOT)
        .where(SNAPSHOT.c.record_type == record_type, SNAPSHOT.c.record_id == record_id)
        .order_by(SNAPSHOT.c.day)
    )
    return [row._asdict() for row in session.execute(query)]


def at_risk(*, session: Session, limit: int) -> list[dict[str, Any]]:
    """Records graded Fair or Poor: declining ones first (still savable), then worst first."""
    declining = sa.case((KPI.c.health_trend == 2, 0), else_=1)
    query = (
        sa.select(KPI.c.record_type, KPI.c.record_id, KPI.c.health_score, KPI.c.health_state,
                  KPI.c.health_trend, KPI.c.reasons)
        .where(KPI.c.health_state.in_((1, 2)))
        .order_by(declining, KPI.c.health_score, KPI.c.record_type, KPI.c.record_id)
        .limit(limit)
    )  # fmt: skip
    risky = []
    for row in session.execute(query):
        entry = row._asdict()
        record = load_record(session=session, record_type=row.record_type, record_id=row.record_id)
        entry["name"] = record["display_name"] if record else row.record_id
        risky.append(entry)
    return risky


def deals_at_risk(*, session: Session, limit: int) -> list[dict[str, Any]]:
    """Open opportunities graded Fair or Poor, biggest first, each with its weakest key
    contact (`contact_id`, `full_name`, `weakest_contact_role`, `weakest_contact_score`).

    The deal's own health and reasons: scoring holds a deal down to a key contact
    who is going quiet (scoring.rollup), so the first reason names them.
    """
    deals = RECORD_TABLES["opportunity"]
    contacts = RECORD_TABLES["contact"]
    query = (
        sa.select(
            deals.c.id, deals.c.name, deals.c.estimated_revenue, deals.c.estimated_close_date,
            KPI.c.weakest_contact_id.label("contact_id"), contacts.c.full_name,
            KPI.c.weakest_contact_role, KPI.c.weakest_contact_score, KPI.c.health_score,
            KPI.c.health_state, KPI.c.health_trend, KPI.c.reasons,
        )
        .join(KPI, (KPI.c.record_type == "opportunity") & (KPI.c.record_id == deals.c.id))
        .outerjoin(contacts, contacts.c.id == KPI.c.weakest_contact_id)
        .where(deals.c.status == "open", KPI.c.health_state.in_((1, 2)))
        .order_by(deals.c.estimated_revenue.desc().nulls_last(), deals.c.id)
        .limit(limit)
    )  # fmt: skip
    return [row._asdict() for row in session.execute(query)]
