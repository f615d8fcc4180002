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
