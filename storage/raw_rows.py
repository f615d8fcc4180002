"""Rows straight from the database driver, for the reads that take a million rows.

SQLAlchemy's per-row result processing (Row objects, type processors) costs
more than the read itself at that size: the scoring read and the CRM-data
path's pass over every activity use the driver's cursor instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

BATCH = 20_000  # rows per fetch: memory stays flat, round trips stay few


def sqlite_time(value: str | None) -> datetime | None:
    """SQLite keeps naive UTC text (storage.types.UTCDateTime); PostgreSQL needs none of this."""
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


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
