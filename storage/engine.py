"""Engine and session for the store: SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store (also `sqlite:///file:PATH?mode=ro&uri=true`); None otherwise."""
    parsed = normalise_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if parsed.query.get("uri") == "true" and database.startswith("file:"):
        database = database.removeprefix("file:").partition("?")[0]
        if database in ("", ":memory:"):
            return None
    return Path(database)


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
        parsed = normalise_url(url)
    except DatabaseUrlError:
        return "<invalid database URL>"
    if "password" in parsed.query:  # libpq also takes the password as a query parameter
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


# SQLSTATEs (PostgreSQL) that mean the store, not the request, is the problem.
READ_ONLY_SQLSTATES = {"25006": "the database is read-only"}
PERMISSION_SQLSTATE = "42501"
MISSING_TABLE_SQLSTATES = ("42P01", "3F000")  # undefined table, undefined schema


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip() if error is not None else ""
    return text.splitlines()[0] if text else type(error).__name__


def missing_tables(error: sa.exc.DBAPIError) -> bool:
    """Whether the statement failed because Rapport's tables are not there."""
    if getattr(error.orig, "sqlstate", None) in MISSING_TABLE_SQLSTATES:
        return True
    return isinstance(error.orig, sqlite3.OperationalError) and "no such table" in str(error.orig)


def store_unusable_reason(error: BaseException) -> str | None:
    """One line saying why the store cannot be used, or None if `error` is no such failure.

    Unreachable, not a database at all (a garbage file as the SQLite store),
    read-only, or a role without the rights: each is something to fix in the
    deployment, not a bug. The line is the driver's first one: never the SQL
    or its parameters, which may hold personal data.
    """
    if not isinstance(error, sa.exc.DBAPIError):
        return None
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in READ_ONLY_SQLSTATES:
        return f"{READ_ONLY_SQLSTATES[sqlstate]} ({_first_line(orig)})"
    if isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError):
        return _first_line(orig) if orig is not None else type(error).__name__
    if sqlstate == PERMISSION_SQLSTATE:
        return _first_line(orig)
    # sqlite3.DatabaseError itself (not a subclass): "file is not a database", "malformed".
    if type(orig) is sqlite3.DatabaseError:
        return _first_line(orig)
    return None


def database_error_line(error: BaseException) -> str:
    """One line for a failed statement: why the store is unusable, else the driver's first
    line (never the SQL or its parameters that follow it)."""
    return store_unusable_reason(error) or _first_line(getattr(error, "orig", None) or error)


def is_postgres(session: Session) -> bool:
    """Whether the session's store is PostgreSQL; asks the bind, so no connection opens."""
    return session.get_bind().dialect.name == "postgresql"


def is_sqlite(session: Session) -> bool:
    """Whether the session's store is SQLite; asks the bind, like `is_postgres`."""
    return session.get_bind().dialect.name == "sqlite"
