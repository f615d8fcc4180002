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
    columns: tuple[str, ...] = row_type._fields  # type: ignore[attr-defined]
    if is_sqlite(session):
        return _sqlite_rows(session, row_type, table, columns, times, unreadable, where)
    return _postgres_rows(session, row_type, table, columns, times, unreadable, where)


def _select(table: str, columns: tuple[str, ...], *conditions: str) -> str:
    where = " AND ".join(f"({condition})" for condition in conditions if condition)
    return f"SELECT {', '.join(columns)} FROM {table}{f' WHERE {where}' if where else ''}"


def _sqlite_rows(
    session: Session,
    row_type: type[Row],
    table: str,
    columns: tuple[str, ...],
    times: tuple[str, ...],
    unreadable: list[Unreadable],
    where: str,
) -> Iterator[Row]:
    indexes = [columns.index(name) for name in times]
    new = tuple.__new__  # skips the NamedTuple's Python-level __new__
    for row in raw_rows(session, f"{_select(table, columns, where)} ORDER BY id"):
        values = list(row)
        try:
            for index in indexes:
                values[index] = sqlite_time(values[index])
        except UNREADABLE_TIME:
            unreadable.append(_sort_out(row_type, row, columns, times, sqlite_time))
            continue
        yield new(row_type, values)


def _postgres_rows(
    session: Session,
    row_type: type[Row],
    table: str,
    columns: tuple[str, ...],
    times: tuple[str, ...],
    unreadable: list[Unreadable],
    where: str,
) -> Iterator[Row]:
    """One plain read; only if a value cannot be loaded (psycopg raises DataError for
    the whole batch) are the remaining rows read again, the unreadable ones as text.

    Guarding every read in SQL instead would cost a second pass over the
    table on every run; this costs nothing until a CRM writes such a value.
    """
    new = tuple.__new__
    row: tuple[Any, ...] | None = None
    try:
        for row in raw_rows(session, f"{_select(table, columns, where)} ORDER BY id"):
            yield new(row_type, row)
        return
    except psycopg.DataError:
        pass
    # Rows come by id, so every row after the last one yielded is still to come.
    held = " AND ".join(f"({name} IS NULL OR {name} {_HELD})" for name in times)
    as_text = tuple(f"{name}::text" if name in times else name for name in columns)
    query = f"{_select(table, as_text, where, f'NOT ({held})')} ORDER BY id"
    for raw in raw_rows(session, query):
        unreadable.append(_sort_out(row_type, raw, columns, times, sqlite_time))
    after = "" if row is None else "id > %s"
    params = () if row is None else (row[0],)
    query = f"{_select(table, columns, where, held, after)} ORDER BY id"
    for row in raw_rows(session, query, params):
        yield new(row_type, row)


def _sort_out(
    row_type: type[Row],
    row: tuple[Any, ...],
    columns: tuple[str, ...],
    times: tuple[str, ...],
    read: Any,
) -> Unreadable:
    """The row with what can be read converted, and the columns that cannot."""
    values = list(row)
    failed: list[str] = []
    for name in times:
        index = columns.index(name)
        try:
            values[index] = read(values[index])
        except UNREADABLE_TIME:
            failed.append(name)
    return Unreadable(tuple.__new__(row_type, values), tuple(failed))
