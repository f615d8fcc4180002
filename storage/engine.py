"""Engine and session for the store: SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import Session

DEFAULT_DATABASE_URL = "sqlite:///rapport.db"


class DatabaseUrlError(ValueError):
    """The configured database URL names no database Rapport supports."""


def normalise_url(url: str) -> URL:
    """Accept the URLs people paste and pin PostgreSQL to psycopg 3."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise DatabaseUrlError(
            "RAPPORT_DATABASE_URL is not a database URL; expected e.g. sqlite:///rapport.db "
            "or postgresql://user@host:5432/db"
        ) from exc
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    raise DatabaseUrlError(f"RAPPORT_DATABASE_URL uses {backend!r}; allowed: sqlite, postgresql")


def create_store_engine(url: str, **kwargs: Any) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Sessions in UTC: psycopg then returns `datetime.timezone.utc` values,
    # which convert to epoch seconds 3x faster than the ZoneInfo it builds for
    # a named server zone (scoring converts every interaction's time).
    connect_args = {"options": "-c timezone=UTC", **kwargs.pop("connect_args", {})}
    return sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (a CRM, `rapport health show`) run while the worker writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed on success, rolled back on any error."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return normalise_url(url).render_as_string(hide_password=True)
    except DatabaseUrlError:
        return "<invalid database URL>"


def is_postgres(session: Session) -> bool:
    """Whether the session's store is PostgreSQL; asks the bind, so no connection opens."""
    return session.get_bind().dialect.name == "postgresql"


def is_sqlite(session: Session) -> bool:
    """Whether the session's store is SQLite; asks the bind, like `is_postgres`."""
    return session.get_bind().dialect.name == "sqlite"
