"""Rows straight from the database driver, for the reads that take a million rows.

SQLAlchemy's per-row result processing (Row objects, type processors) costs
more than the read itself at that size: the scoring read and the CRM-data
path's pass over every activity use the driver's cursor instead.

The CRM writes its tables itself, so a timestamp column may hold what no
Python datetime can: any text or number on SQLite, 'infinity' or year 20000
on PostgreSQL. `named_rows` reads such tables: a row whose timestamp cannot
be read is handed back apart, its columns named, instead of stopping the
read (storage.crm_problems says what the run does with it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import psycopg
from sqlmodel import Session

from storage.engine import is_sqlite

BATCH = 20_000  # rows per fetch: memory stays flat, round trips stay few
UNREADABLE_TIME = (ValueError, TypeError, OverflowError)
# What PostgreSQL holds and a Python datetime cannot: infinities, years before 1 or after 9999.
_HELD = "BETWEEN '0001-01-01T00:00:00Z' AND '9999-12-31T23:59:59.999999Z'"

Row = TypeVar("Row", bound=tuple[Any, ...])


def sqlite_time(value: str | None) -> datetime | None:
    """SQLite keeps naive UTC text (storage.types.UTCDateTime). PostgreSQL returns
    datetimes; its text form of a timestamptz (with its offset) is read here too, for
    a row `named_rows` could not load.

    Text written by a CRM may carry an offset ('+05:00', 'Z'): it is converted
    to UTC, not dropped. Raises ValueError, TypeError or OverflowError
    (UNREADABLE_TIME) for anything that is not an ISO-8601 time.
    """
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def raw_rows(
    session: Session, query: str, params: tuple[Any, ...] = ()
) -> Iterator[tuple[Any, ...]]:
    """Tuples in the query's column order, streamed, inside the session's transaction."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.execute(query, params)
        while rows := cursor.fetchmany(BATCH):
            yield from rows
    finally:
        cursor.close()


class Unreadable(NamedTuple):
    """A row with timestamps no datetime can hold: those values as read, the rest converted."""

    row: Any  # the caller's row type
    columns: tuple[str, ...]  # the timestamp columns that could not be read


def named_rows(
    session: Session,
    row_type: type[Row],
    table: str,
    *,
    times: tuple[str, ...],
    unreadable: list[Unreadable],
    where: str = "",
) -> Iterator[Row]:
    """`table`'s rows as `row_type` (a NamedTuple of its columns), by id, streamed.

    The `times` columns come as aware UTC datetimes. A row holding a value in
    one of them that is no readable timestamp is appended to `unreadable`
    instead of being yielded. `where` is SQL over the table's columns.
    """
    read = _Read(row_type, table, row_type._fields, times, where)  # type: ignore[attr-defined]
    if is_sqlite(session):
        return _sqlite_rows(session, read, unreadable)
    return _postgres_rows(session, read, unreadable)


class _Read(NamedTuple):
    """One `named_rows` read: which rows, as what."""

    row_type: type[Any]
    table: str
    columns: tuple[str, ...]
    times: tuple[str, ...]
    where: str

    def select(self, columns: tuple[str, ...], *conditions: str) -> str:
        """The read's rows by id: `columns` of those matching `where` and `conditions`."""
        where = " AND ".join(f"({c})" for c in (self.where, *conditions) if c)
        query = f"SELECT {', '.join(columns)} FROM {self.table}"
        return f"{query}{f' WHERE {where}' if where else ''} ORDER BY id"

    def sort_out(self, row: tuple[Any, ...]) -> Unreadable:
        """The row with what can be read converted, and the columns that cannot."""
        values = list(row)
        failed: list[str] = []
        for name in self.times:
            index = self.columns.index(name)
            try:
                values[index] = sqlite_time(values[index])
            except UNREADABLE_TIME:
                failed.append(name)
        return Unreadable(tuple.__new__(self.row_type, values), tuple(failed))


def _sqlite_rows(session: Session, read: _Read, unreadable: list[Unreadable]) -> Iterator[Row]:
    indexes = [read.columns.index(name) for name in read.times]
    new, row_type = tuple.__new__, read.row_type  # skips the NamedTuple's Python-level __new__
    for row in raw_rows(session, read.select(read.columns)):
        values = list(row)
        try:
            for index in indexes:
                values[index] = sqlite_time(values[index])
        except UNREADABLE_TIME:
            unreadable.append(read.sort_out(row))
            continue
        yield new(row_type, values)


def _postgres_rows(session: Session, read: _Read, unreadable: list[Unreadable]) -> Iterator[Row]:
    """One plain read; only if a value cannot be loaded (psycopg raises DataError for
    the whole batch) are the remaining rows read again, the unreadable ones as text.

    Guarding every read in SQL instead would cost a second pass over the
    table on every run; this costs nothing until a CRM writes such a value.
    """
    new, row_type = tuple.__new__, read.row_type
    row: tuple[Any, ...] | None = None
    try:
        for row in raw_rows(session, read.select(read.columns)):
            yield new(row_type, row)
        return
    except psycopg.DataError:
        pass
    # Rows come by id, so every row after the last one yielded is still to come.
    held = " AND ".join(f"({name} IS NULL OR {name} {_HELD})" for name in read.times)
    as_text = tuple(f"{name}::text" if name in read.times else name for name in read.columns)
    for raw in raw_rows(session, read.select(as_text, f"NOT ({held})")):
        unreadable.append(read.sort_out(raw))
    after = "" if row is None else "id > %s"
    params = () if row is None else (row[0],)
    for row in raw_rows(session, read.select(read.columns, held, after), params):
        yield new(row_type, row)
