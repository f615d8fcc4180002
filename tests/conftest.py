"""Shared fixtures: a migrated store on real SQLite and on real PostgreSQL.

Every test that takes `engine` runs twice, once per database. PostgreSQL comes
from RAPPORT_TEST_POSTGRES_URL (default: the local server); a dedicated
database is created and migrated once per test process (one per xdist worker)
and emptied before and after every test. If the server is down the PostgreSQL
half fails loudly: it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from storage import migrate
from storage.engine import create_store_engine

POSTGRES_ADMIN_URL = os.environ.get(
    "RAPPORT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
DATABASES = ["sqlite", "postgres"]
# Above this many rows TRUNCATE empties a table faster than DELETE (see postgres_emptier).
MANY_ROWS = 1000


def pytest_configure(config: pytest.Config) -> None:
    """pytest-xdist's `--dist loadfile` deals files in collection order (below), not by
    how many tests each holds: its default order put files of one long test (a benchmark,
    a cluster of processes) last, one worker busy with them while the other sat idle."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Test files holding a test marked `slow` run first, each file's tests still together
    and in order. pytest-xdist hands out files (`--dist loadfile`) or tests in collection
    order; a slow file dealt last keeps one worker busy while the others sit idle."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


def _fresh_postgres_database(name: str, create_options: str = "") -> str:
    """A new, empty database `name` (CREATE DATABASE's `create_options` appended)."""
    admin = create_store_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"{create_options}'))
        # A commit that waits for its WAL flush costs ~7 ms on this disk (more while other
        # databases are busy), ~0.1 ms without: tests commit thousands of times. What a
        # commit means to every other session is the same; only a server crash could lose
        # the last commits of a throw-away database.
        connection.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    admin.dispose()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _worker_suffix() -> str:
    # Unique per process: several test runs may share one PostgreSQL server.
    return f"{os.getpid()}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def _drop_postgres_database(name: str) -> None:
    admin = create_store_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def scratch_postgres_database(stem: str, create_options: str) -> Iterator[str]:
    """The URL of a database of its own made with `create_options` (a locale, say), which
    the spare databases' reuse cannot give; dropped at the end."""
    name = f"{stem}_{_worker_suffix()}"
    try:
        yield _fresh_postgres_database(name, create_options)
    finally:
        _drop_postgres_database(name)


# Databases of this process that a test or module had to itself, free again. DROP DATABASE
# makes the server write a checkpoint (one to several seconds while other databases are
# busy): a database is reused, its schema dropped and recreated, instead of dropped and
# created for every use; all are dropped once, at the end of the session.
_SPARE_DATABASES: list[str] = []
_CREATED_DATABASES: list[str] = []


@contextmanager
def _own_postgres_database() -> Iterator[str]:
    """The URL of a PostgreSQL database with an empty `public` schema, this block's alone."""
    if _SPARE_DATABASES:
        name = _SPARE_DATABASES.pop()
    else:
        name = f"rapport_own{len(_CREATED_DATABASES)}_{_worker_suffix()}"
        _CREATED_DATABASES.append(name)
        _fresh_postgres_database(name)
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        _empty_schema(url)
        yield url
    finally:
        _SPARE_DATABASES.append(name)


def _empty_schema(url: str) -> None:
    """What dropping and creating the database leaves, without the checkpoint: its other
    sessions ended (as WITH (FORCE) does) and an empty `public` schema."""
    engine = create_store_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _own_databases_dropped() -> Iterator[None]:
    yield
    for name in _CREATED_DATABASES:
        _drop_postgres_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "rapport.db"
    engine = create_store_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    name = f"rapport_test_{_worker_suffix()}"
    engine = create_store_engine(_fresh_postgres_database(name))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    _drop_postgres_database(name)


@pytest.fixture(scope="session")
def postgres_emptier(postgres_engine: Engine) -> Callable[[], None]:
    """Empties every table of the migrated store and restarts its sequences.

    What `TRUNCATE <every table> RESTART IDENTITY CASCADE` does, in two round trips: TRUNCATE
    replaces every table's and index's files, half a second or more per call (twice per
    PostgreSQL test), so only tables of many rows are truncated; the few rows of the others
    are deleted, children before parents, in milliseconds.
    """
    reflected = sa.MetaData()
    reflected.reflect(postgres_engine)
    tables = [t.name for t in reversed(reflected.sorted_tables) if t.name != "alembic_version"]
    with postgres_engine.connect() as connection:
        sequences = connection.execute(
            sa.text("SELECT schemaname, sequencename, start_value FROM pg_sequences")
        ).all()
    sizes = "SELECT " + ", ".join(
        f'(SELECT count(*) FROM (SELECT FROM "{table}" LIMIT {MANY_ROWS}) AS capped)'
        for table in tables
    )
    restart = [
        f"""SELECT setval('"{schema}"."{name}"', {start}, false)"""
        for schema, name, start in sequences
    ]

    def empty() -> None:
        with postgres_engine.begin() as connection:
            counts = dict(zip(tables, connection.exec_driver_sql(sizes).one(), strict=True))
            many = [f'"{table}"' for table in tables if counts[table] >= MANY_ROWS]
            few = [f'DELETE FROM "{table}"' for table in tables if 0 < counts[table] < MANY_ROWS]
            truncate = [f"TRUNCATE {', '.join(many)} CASCADE"] if many else []
            connection.exec_driver_sql("; ".join([*truncate, *few, *restart]))

    return empty


def _earlier_lock_holders_ended(engine: Engine, seconds: float = 30) -> None:
    """Wait until no session of this database holds an advisory lock (run, scoring
    process, lease). A run process an earlier test started may have exited while its
    server session, and the locks it held, end a moment later: a test that then asks
    for the run lock without waiting would find it taken by nobody it started."""
    query = sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    deadline = time.monotonic() + seconds
    while True:
        with engine.connect() as connection:
            if not connection.execute(query).scalar():
                return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"advisory locks still held on {engine.url.database} after {seconds:g} s"
            )
        time.sleep(0.05)


@pytest.fixture(params=DATABASES)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """The URL of a migrated, empty store (SQLite file or PostgreSQL database)."""
    if request.param == "sqlite":
        path = tmp_path / "rapport.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    engine: Engine = request.getfixturevalue("postgres_engine")
    empty: Callable[[], None] = request.getfixturevalue("postgres_emptier")
    empty()
    _earlier_lock_holders_ended(engine)
    yield engine.url.render_as_string(hide_password=False)
    empty()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    store = create_store_engine(database_url)
    yield store
    store.dispose()


@contextmanager
def private_store(kind: str, directory: Path, sqlite_template: Path) -> Iterator[Engine]:
    """A migrated, empty store of its own (`kind`: sqlite or postgres), gone at the end.

    For fixtures wider than one test (module scope): a store that several read-only tests
    share, built once, beside the per-test `engine` that is emptied around every test.
    """
    if kind == "sqlite":
        path = directory / "rapport.db"
        shutil.copy(sqlite_template, path)
        engine = create_store_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    with _own_postgres_database() as url, migrated_store(url) as engine:
        yield engine


@contextmanager
def migrated_store(url: str) -> Iterator[Engine]:
    """The store at `url` upgraded to the newest revision, its engine disposed at the end."""
    engine = create_store_engine(url)
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@contextmanager
def scored_private_store(
    kind: str, directory: Path, sqlite_template: Path, seed: Callable[[Engine], None]
) -> Iterator[tuple[Engine, str]]:
    """A private store (above) seeded by `seed` and scored once, as `rapport run --once`
    scores it (settings from a clean environment, `now` = factories.NOW): (store, its URL),
    for module fixtures whose tests only read the scored book."""
    from tests import factories as f
    from worker.cli import commands  # the CLI's run, imported only by the tests that score
    from worker.settings import Settings

    with private_store(kind, directory, sqlite_template) as engine:
        url = engine.url.render_as_string(hide_password=False)
        with pytest.MonkeyPatch.context() as environment:
            environment.setenv("RAPPORT_DATABASE_URL", url)
            seed(engine)
            summary = commands.run_once(engine, Settings(), f.NOW, interactive=False)
        assert summary["exit_code"] == 0, summary
        yield engine, url


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with _own_postgres_database() as url:
        yield url
