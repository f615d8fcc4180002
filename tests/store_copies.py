"""A store seeded once per module and copied into each test's own store.

Seeding and scoring a book takes a second or more per test on PostgreSQL under load;
copying the rows it left takes a few hundredths. `SeededStore.copy_into` seeds the
first store it is handed (a test's `engine`, migrated and empty) and keeps a copy of
what that left; every later store it is handed gets that copy. Each test has a store
of its own, so none sees what another wrote, in any order.

The copy is the stored rows and nothing else: on SQLite the file's pages (the backup
API, consistent whatever the write-ahead log holds); on PostgreSQL every table's rows
as binary COPY, put back with the database's triggers off (the change logs are
copied as they were, not written again) and the sequences set where the seeding
left them. A second database per module would cost more than the copies: creating
and migrating it, and a checkpoint when it is dropped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class PostgresRows:
    """What a PostgreSQL store holds: each non-empty table's rows in COPY's binary
    format, and each sequence's last value."""

    tables: dict[str, bytes] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)


def postgres_rows(engine: Engine) -> PostgresRows:
    rows = PostgresRows()
    raw: Any = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
            for (table,) in cursor.fetchall():
                cursor.execute(f'SELECT EXISTS (SELECT FROM "{table}")')
                if cursor.fetchone()[0]:
                    with cursor.copy(f'COPY "{table}" TO STDOUT (FORMAT binary)') as copy:
                        rows.tables[table] = b"".join(bytes(block) for block in copy)
            cursor.execute(
                "SELECT sequencename, last_value FROM pg_sequences "
                "WHERE schemaname = 'public' AND last_value IS NOT NULL"
            )
            rows.sequences.update(cursor.fetchall())
        raw.commit()
    finally:
        raw.close()
    return rows


def restore_postgres_rows(rows: PostgresRows, engine: Engine) -> None:
    """Into an empty store of the same schema, in one transaction."""
    raw: Any = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            # Triggers (the change logs) and foreign-key checks off: the rows are a
            # consistent store's, put back table by table in any order.
            cursor.execute("SET LOCAL session_replication_role = replica")
            for table, data in rows.tables.items():
                with cursor.copy(f'COPY "{table}" FROM STDIN (FORMAT binary)') as copy:
                    copy.write(data)
            for sequence, last_value in rows.sequences.items():
                cursor.execute("SELECT setval(%s, %s, true)", (f'"{sequence}"', last_value))
        raw.commit()
    finally:
        raw.close()


def copy_sqlite_file(source: Path, target: Path) -> None:
    """Every page of one SQLite file into another (the target's connections closed)."""
    with (
        closing(sqlite3.connect(source)) as reading,
        closing(sqlite3.connect(target)) as writing,
    ):
        reading.backup(writing)


class SeededStore:
    """`seed` run once per database kind, in the first store handed to `copy_into`;
    each later store gets a copy of what it left. `directory` keeps the SQLite copy."""

    def __init__(self, seed: Callable[[Engine], None], directory: Path) -> None:
        self._seed, self._directory = seed, directory
        self._sqlite_file: Path | None = None
        self._postgres_rows: PostgresRows | None = None

    def copy_into(self, target: Engine) -> Engine:
        """The seeded rows in `target`, a migrated and empty store of its own."""
        if target.dialect.name == "postgresql":
            self._postgres_into(target)
        else:
            self._sqlite_into(target)
        return target

    def _postgres_into(self, target: Engine) -> None:
        if self._postgres_rows is None:
            self._seed(target)
            self._postgres_rows = postgres_rows(target)
        else:
            restore_postgres_rows(self._postgres_rows, target)

    def _sqlite_into(self, target: Engine) -> None:
        assert target.url.database
        target_file = Path(target.url.database)
        target.dispose()  # the pages are replaced under no open connection
        if self._sqlite_file is None:
            self._seed(target)
            target.dispose()
            self._sqlite_file = self._directory / "seeded.db"
            copy_sqlite_file(target_file, self._sqlite_file)
        else:
            copy_sqlite_file(self._sqlite_file, target_file)
