"""Reading back the health of one record (for `rapport health show` and exports).

The CRM writes its record tables itself, so a time column may hold what no
Python value can (docs/crm-contract.md, "Values Rapport refuses"). A record
is still shown: such a value reads as unknown (None), and the record carries
the problem (`UNREADABLE_KEY`), worded as the run reports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlmodel import Session

from storage.crm_problems import RowProblem
from storage.directory import normalise_address
from storage.engine import is_sqlite
from storage.rapport_tables import HealthSnapshot, RelationshipKpi
from storage.raw_rows import UNREADABLE_TIME, sqlite_time
from storage.types import UTCDateTime, core_table
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


# The key under which a record read here lists its unreadable values (RowProblem).
UNREADABLE_KEY = "unreadable"
SHOWN_AS_UNKNOWN = "shown as unknown"


def load_record(*, session: Session, record_type: str, record_id: str) -> dict[str, Any] | None:
    table = RECORD_TABLES[record_type]
    record = read_row(session=session, table=table, row_id=record_id)
    if record is None:
        return None
    record["display_name"] = record[NAME_COLUMN[record_type]]
    return record


def read_row(
    *,
    session: Session,
    table: sa.Table,
    row_id: str,
    columns: Sequence[str] | None = None,
    handling: str = SHOWN_AS_UNKNOWN,
) -> dict[str, Any] | None:
    """One CRM row by id (all its columns, or `columns`), whatever its time columns hold.

    A time column no Python value can hold reads as None, and the row's
    UNREADABLE_KEY lists each such value as a RowProblem with `handling`.
    The usual read is tried first; only a row it cannot load is read again
    with its time columns as text.
    """
    chosen = [table.c[name] for name in columns] if columns is not None else list(table.columns)
    where = table.c.id == row_id
    try:
        found = session.execute(sa.select(*chosen).where(where)).first()
    except (psycopg.DataError, sa.exc.DataError, *UNREADABLE_TIME):
        return _read_as_text(session, table, chosen, row_id, handling)
    if found is None:
        return None
    return {**found._asdict(), UNREADABLE_KEY: []}


def _is_time(column: sa.ColumnElement[Any]) -> bool:
    return isinstance(column.type, UTCDateTime | sa.Date | sa.DateTime)


def _read_as_text(
    session: Session,
    table: sa.Table,
    chosen: list[sa.Column[Any]],
    row_id: str,
    handling: str,
) -> dict[str, Any] | None:
    # SQLite hands back what the CRM wrote (text or a number) once no type reads it;
    # PostgreSQL's 'infinity' or year 20000 only as text.
    sqlite = is_sqlite(session)
    as_text = [
        (sa.type_coerce(c, sa.String()) if sqlite else sa.cast(c, sa.Text)).label(c.name)
        if _is_time(c)
        else c
        for c in chosen
    ]
    found = session.execute(sa.select(*as_text).where(table.c.id == row_id)).first()
    if found is None:
        return None
    row = found._asdict()
    problems: list[RowProblem] = []
    for column in filter(_is_time, chosen):
        raw = row[column.name]
        try:
            row[column.name] = _read_time(column, raw)
        except UNREADABLE_TIME:
            row[column.name] = None
            expected = "a timestamp" if isinstance(column.type, UTCDateTime) else "a date"
            problems.append(RowProblem(table.name, row_id, column.name, raw, expected, handling))
    row[UNREADABLE_KEY] = problems
    return row


def _read_time(column: sa.Column[Any], raw: Any) -> Any:
    """A time column's text as the column's own type reads it (UTC, aware), or an error."""
    if raw is None:
        return None
    if isinstance(column.type, sa.Date):
        return date.fromisoformat(raw)
    return sqlite_time(raw)


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
