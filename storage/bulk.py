"""Bulk writes: COPY on PostgreSQL, one executemany on SQLite.

SQLAlchemy's executemany over psycopg 3 sends one INSERT per row (pipelined,
but still a statement each); COPY streams the rows in one command and is an
order of magnitude faster for the hundreds of thousands of rows a backfill
or a CRM ingest writes. Both paths run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session


def _copy_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        from psycopg.types.json import Json

        return Json(value)
    return value


def insert_rows(
    session: Session, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert `rows` (tuples in `columns` order); returns how many were written."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        batch = [dict(zip(columns, row, strict=True)) for row in rows]
        if batch:
            session.execute(sa.insert(table), batch)
        return len(batch)
    json_columns = {i for i, c in enumerate(columns) if isinstance(table.c[c].type, sa.JSON)}
    driver = connection.connection.driver_connection
    assert driver is not None
    written = 0
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            if json_columns:
                row = [_copy_value(v) if i in json_columns else v for i, v in enumerate(row)]
            copy.write_row(row)
            written += 1
    return written


def update_rows(
    session: Session,
    table: sa.Table,
    keys: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> int:
    """Set `columns` on the rows identified by `keys`; each row is keys then columns.

    PostgreSQL: COPY into a temporary table, then one UPDATE ... FROM, instead of
    one UPDATE statement per row.
    """
    if not rows:
        return 0
    if session.connection().dialect.name != "postgresql":
        where = sa.and_(*(table.c[k] == sa.bindparam(f"k_{k}") for k in keys))
        statement = (
            sa.update(table).where(where).values({c: sa.bindparam(f"v_{c}") for c in columns})
        )
        names = [f"k_{k}" for k in keys] + [f"v_{c}" for c in columns]
        session.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])
        return len(rows)
    staging = f"rapport_staging_{table.name}"
    selected = ", ".join((*keys, *columns))
    session.execute(sa.text(f"DROP TABLE IF EXISTS {staging}"))
    session.execute(
        sa.text(
            f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS "
            f"SELECT {selected} FROM {table.name} WITH NO DATA"
        )  # fmt: skip
    )
    staged = sa.Table(
        staging, sa.MetaData(), *(sa.Column(c, table.c[c].type) for c in (*keys, *columns))
    )
    insert_rows(session, staged, (*keys, *columns), rows)
    assignments = ", ".join(f"{c} = s.{c}" for c in columns)
    matches = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    session.execute(
        sa.text(f"UPDATE {table.name} AS t SET {assignments} FROM {staging} AS s WHERE {matches}")
    )
    session.execute(sa.text(f"DROP TABLE {staging}"))
    return len(rows)
