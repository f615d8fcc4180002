"""What an import batch finds in the store, and writing what changed.

A row is compared column by column with the stored one, over the columns the
file gives (a column the file leaves out keeps its stored value), so a
second import of the same file finds every row unchanged and writes
nothing. Writes go through storage.bulk (COPY on PostgreSQL, one
executemany on SQLite). Rapport's own columns (`health_*`) are never
written. An activity's parties are compared as a whole and replaced as a
whole when they differ.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from crm.file_rows import FileRow, PartyRow, write_columns
from storage.bulk import insert_rows, update_rows
from storage.crm_contract import CRM_TABLES
from storage.interaction_store import chunks
from storage.types import UTCDateTime

PARTIES = CRM_TABLES["crm_activity_party"]
TABLES = {name: table for name, table in CRM_TABLES.items() if name != PARTIES.name}
PARTY_COLUMNS = ("role", "address", "record_type", "record_id", "response")
UNREADABLE = object()  # a stored value that cannot be read: never equal to a file's


def _stored_time(value: Any) -> Any:
    """Times and dates are read as text: a CRM may have written anything into them."""
    if value is None or isinstance(value, datetime | date):
        return value.astimezone(UTC) if isinstance(value, datetime) else value
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return UNREADABLE
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stored_day(value: Any) -> Any:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if len(str(value)) >= 10 else UNREADABLE
    except ValueError:
        return UNREADABLE


def _is_time(table: sa.Table, column: str) -> bool:
    return isinstance(table.c[column].type, UTCDateTime | sa.DateTime)


def _is_day(table: sa.Table, column: str) -> bool:
    return isinstance(table.c[column].type, sa.Date)


def _readable_column(table: sa.Table, column: str) -> Any:
    if _is_time(table, column) or _is_day(table, column):
        return sa.cast(table.c[column], sa.String).label(column)  # read unchecked, as text
    return table.c[column]


def _reader(table: sa.Table, column: str) -> Callable[[Any], Any]:
    """How a stored value of `column` becomes comparable with a file's."""
    if _is_time(table, column):
        return _stored_time
    return _stored_day if _is_day(table, column) else _as_stored


def _as_stored(value: Any) -> Any:
    return value


def stored_rows(
    session: Session, model: type[FileRow], keys: Sequence[tuple[str, ...]]
) -> dict[tuple[str, ...], dict[str, Any]]:
    """The stored rows among `keys`, as comparable values by column."""
    table = TABLES[model.table]
    columns = write_columns(model)
    selected = [_readable_column(table, column) for column in columns]
    key_columns = [table.c[column] for column in model.key_columns]
    readers = [(column, _reader(table, column)) for column in columns]
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for batch in chunks(keys):
        where = (
            key_columns[0].in_([key[0] for key in batch])
            if len(key_columns) == 1
            else sa.tuple_(*key_columns).in_(batch)
        )
        for row in session.execute(sa.select(*selected).where(where)):
            values = {c: read(v) for (c, read), v in zip(readers, row, strict=True)}
            found[tuple(values[column] for column in model.key_columns)] = values
    return found


def existing_ids(session: Session, table: str, ids: Iterable[str]) -> set[str]:
    """Those of `ids` that `table` holds."""
    column = TABLES[table].c.id
    found: set[str] = set()
    for batch in chunks(sorted(set(ids))):
        found.update(session.scalars(sa.select(column).where(column.in_(batch))))
    return found


@dataclass
class TableWrites:
    """What one batch of one table does to the store."""

    inserted: list[FileRow] = field(default_factory=list)
    updated: list[FileRow] = field(default_factory=list)
    unchanged: int = 0


def classify(rows: Sequence[FileRow], stored: dict[tuple[str, ...], dict[str, Any]]) -> TableWrites:
    """Insert what is new, update what differs in a column the file gives, keep the rest."""
    writes = TableWrites()
    for row in rows:
        before = stored.get(row.key())
        if before is None:
            writes.inserted.append(row)
        elif any(before[column] != getattr(row, column) for column in _given(row)):
            writes.updated.append(row)
        else:
            writes.unchanged += 1
    return writes


def _given(row: FileRow) -> list[str]:
    """The columns the file gave for this row (others keep what is stored)."""
    columns = write_columns(type(row))
    return [column for column in columns if column in row.model_fields_set]


def write(session: Session, model: type[FileRow], writes: TableWrites) -> None:
    table = TABLES[model.table]
    columns = write_columns(model)
    if writes.inserted:
        rows = [tuple(getattr(row, column) for column in columns) for row in writes.inserted]
        insert_rows(session, table, columns, rows)
    by_columns: dict[tuple[str, ...], list[FileRow]] = defaultdict(list)
    for row in writes.updated:
        changed = tuple(c for c in _given(row) if c not in model.key_columns)
        by_columns[changed].append(row)
    for changed, rows_changed in by_columns.items():
        values = [
            (*row.key(), *(getattr(row, column) for column in changed)) for row in rows_changed
        ]
        update_rows(session, table, model.key_columns, changed, values)


PartySet = list[tuple[Any, ...]]


def stored_parties(session: Session, activity_ids: Sequence[str]) -> dict[str, PartySet]:
    """Each activity's parties, sorted, as crm_activity_party holds them."""
    found: dict[str, PartySet] = defaultdict(list)
    selected = [PARTIES.c.activity_id, *(PARTIES.c[column] for column in PARTY_COLUMNS)]
    for batch in chunks(activity_ids):
        query = sa.select(*selected).where(PARTIES.c.activity_id.in_(batch))
        for activity_id, *party in session.execute(query):
            found[activity_id].append(tuple(party))
    return {activity_id: sorted(parties, key=_order) for activity_id, parties in found.items()}


def _order(party: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if value is None else str(value) for value in party)


def party_set(parties: Iterable[PartyRow]) -> PartySet:
    return sorted((party.stored() for party in parties), key=_order)


def replace_parties(session: Session, replaced: dict[str, PartySet]) -> None:
    """The parties of these activities become exactly the ones given."""
    ids = sorted(replaced)
    for batch in chunks(ids):
        session.execute(sa.delete(PARTIES).where(PARTIES.c.activity_id.in_(batch)))
    rows = [(activity_id, *party) for activity_id in ids for party in replaced[activity_id]]
    insert_rows(session, PARTIES, ("activity_id", *PARTY_COLUMNS), rows)
