"""Throwaway stores for the benchmarks: a SQLite file, or a PostgreSQL database made anew."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from storage.engine import create_store_engine

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin(postgres_url: str, *statements: str) -> None:
    """Run statements (CREATE/DROP DATABASE) on the server's `postgres` database."""
    engine = create_store_engine(
        make_url(postgres_url).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with engine.connect() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
    engine.dispose()


def fresh_store(db: str, postgres_url: str, sqlite_path: Path, database: str) -> str:
    """The URL of an empty store: `sqlite_path` (removed first) or `database` on the server."""
    if db == "sqlite":
        sqlite_path.unlink(missing_ok=True)
        return f"sqlite:///{sqlite_path}"
    admin(
        postgres_url,
        f"DROP DATABASE IF EXISTS {database} WITH (FORCE)",
        f"CREATE DATABASE {database}",
    )
    return make_url(postgres_url).set(database=database).render_as_string(hide_password=False)


def drop_store(postgres_url: str, database: str) -> None:
    admin(postgres_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
