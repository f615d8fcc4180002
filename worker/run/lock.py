"""One run at a time per store: the run lock.

A run (`rapport run --once`, or the worker's scoring job) ingests the CRM's
activities, scores every record and writes the health back. Two at once on
one store collide: both find the same interaction keys absent and both
insert them (SQLite: `UNIQUE constraint failed: interaction.key`), or both
find no KPI row for a record and both add one (PostgreSQL). So every run
holds the store's run lock from its start to its end:

- PostgreSQL: the session-level advisory lock "scoring", the one replicas
  already take so that one of them scores at a time. The server drops it
  with the session, so a killed run never blocks the next one.
- SQLite: an exclusive `flock` on `<store>.run-lock` beside the database,
  which names its holder. The operating system drops it however the
  process ends.

A run that finds the lock held waits for it, polling, up to
RAPPORT_RUN_WAIT_SECONDS, then refuses with exit 6 naming the holder.
Waiting serialises runs (cron jobs, a `run --once` beside a worker) with
nobody retrying by hand; the bound keeps a stuck holder from piling runs up
behind it.

Scoring processes (PostgreSQL, worker/run/scoring_processes.py) hold the
"scoring-process" lock in shared mode for as long as they live, and taking
the run lock means finding nobody holding that one either: a process left
over from a run whose parent died keeps the next run waiting until it is
gone. (Such processes end with their parent; this is the second line of
defence.)
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from storage import lease_store
from storage.engine import sqlite_file
from worker.failures import StoreError, UserError
from worker.log import get_logger

log = get_logger("rapport.run_lock")

EXIT_STORE_BUSY = 6
RUN_LOCK, PROCESS_LOCK = "scoring", "scoring-process"  # storage.lease_store.ADVISORY_KEYS
POLL_SECONDS = 0.25


class StoreBusyError(UserError):
    """Another run held the store for longer than this one was allowed to wait."""

    exit_code = EXIT_STORE_BUSY


class JobLock(Protocol):
    def try_take(self) -> bool:
        """Take the lock if nobody holds it; never waits."""

    def holder(self) -> str:
        """Who holds it, in words, for the message of a run that gives up waiting."""

    def release(self) -> None:
        """Let go (if taken) and close what `try_take` opened."""


def this_process(what: str) -> str:
    """`what` and where it runs: the label a lock's holder is named by."""
    return f"{what} (pid {os.getpid()} on {socket.gethostname()})"


class FreeLock:
    """No lock needed: a job that cannot collide with itself on this store."""

    def try_take(self) -> bool:
        return True

    def holder(self) -> str:
        return "nobody"

    def release(self) -> None:
        return None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FileLock:
    """SQLite: an exclusive flock on a file beside the database, naming its holder
    (`label`, and since when by `clock`)."""

    def __init__(self, path: Path, label: str, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.path, self.label, self.clock = path, label, clock
        self._handle: TextIO | None = None

    def try_take(self) -> bool:
        try:
            handle = self.path.open("a+", encoding="utf-8")
        except OSError as error:  # a read-only directory: the store cannot be written either
            raise StoreError(
                f"cannot open the store's lock file {self.path}: {error.strerror or error}; "
                "Rapport must be able to create and write this file beside the database"
            ) from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{self.label}, since {self.clock().isoformat(timespec='seconds')}\n")
        handle.flush()
        self._handle = handle
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip() or "another process"
        except OSError:
            return "another process"

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file releases the lock
            self._handle = None


class AdvisoryLock:
    """PostgreSQL: a session-level advisory lock on a connection of its own.

    `clear_of`: a lock that must also be free (nobody holding it in any mode)
    for this one to count as taken; `label`: the application_name its session
    shows in pg_stat_activity (and so in another run's refusal) unless the
    engine named its sessions already."""

    def __init__(
        self, engine: Engine, name: str, *, label: str | None = None, clear_of: str | None = None
    ) -> None:
        self.engine, self.name, self.label, self.clear_of = engine, name, label, clear_of
        self._connection: Connection | None = None
        self._held = False

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self.engine.connect()
            if self.label:  # a session the engine named already (a replica's) keeps its name
                name = sa.func.current_setting("application_name")
                set_name = sa.select(sa.func.set_config("application_name", self.label, False))
                self._connection.execute(set_name.where(name == ""))
        return self._connection

    def try_take(self) -> bool:
        connection = self._connect()
        try:
            if not lease_store.try_advisory_lock(connection, self.name):
                return False
            if self.clear_of is None or self._clear(connection, self.clear_of):
                self._held = True
                return True
            lease_store.advisory_unlock(connection, self.name)
            return False
        finally:
            connection.commit()  # the lock is the session's; no transaction stays open

    @staticmethod
    def _clear(connection: Connection, name: str) -> bool:
        if not lease_store.try_advisory_lock(connection, name):
            return False
        lease_store.advisory_unlock(connection, name)
        return True

    def holder(self) -> str:
        connection = self._connect()
        holders = lease_store.advisory_holders(connection, self.name)
        connection.commit()
        if holders:
            return ", ".join(f"{name} [server pid {pid}]" for name, pid in holders)
        if self.clear_of is not None:
            left = lease_store.advisory_holders(connection, self.clear_of)
            connection.commit()
            if left:
                return (
                    f"{len(left)} scoring process(es) of an earlier run, still connected "
                    f"(server pids {', '.join(str(pid) for _, pid in left)})"
                )
        return "another run"

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if self._held:
                lease_store.advisory_unlock(connection, self.name)
                connection.commit()
        except DBAPIError as error:
            # The server already dropped the session, and the lock with it.
            log.warning("job lock connection lost", lock=self.name, error=type(error.orig).__name__)
        finally:
            self._held = False
            connection.close()


def lock_file(database_url: str, suffix: str) -> Path | None:
    """A SQLite store's lock file: `rapport.db` -> `rapport.db<suffix>` beside it;
    None for PostgreSQL or in-memory SQLite."""
    store = sqlite_file(database_url)
    if store is None:
        return None
    path = store.resolve()
    return path.with_name(path.name + suffix)


def store_run_lock(engine: Engine, label: str) -> JobLock:
    """The store's run lock, not yet taken; `label` names this process to the others."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, RUN_LOCK, label=label, clear_of=PROCESS_LOCK)
    path = lock_file(engine.url.render_as_string(hide_password=False), ".run-lock")
    return FreeLock() if path is None else FileLock(path, label)


def busy_message(engine: Engine, holder: str, wait_seconds: float) -> str:
    store = engine.url.render_as_string(hide_password=True)
    return (
        f"another run holds the store {store}: {holder}; it did not finish within "
        f"RAPPORT_RUN_WAIT_SECONDS={wait_seconds:g} s; nothing was changed: try again when "
        "it is done, or allow a longer wait"
    )


@contextmanager
def holding_run_lock(
    engine: Engine,
    *,
    wait_seconds: float,
    label: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[None]:
    """Hold the store's run lock for the block, waiting up to `wait_seconds` for it;
    StoreBusyError (exit 6) if it is still held then."""
    lock = store_run_lock(engine, label)
    try:
        if not lock.try_take():
            if wait_seconds > 0:
                log.info(
                    "another run holds the store (%s); waiting up to %g s for it "
                    "(RAPPORT_RUN_WAIT_SECONDS)",
                    lock.holder(),
                    wait_seconds,
                )
            deadline = clock() + wait_seconds
            while not lock.try_take():
                if clock() >= deadline:
                    raise StoreBusyError(busy_message(engine, lock.holder(), wait_seconds))
                sleep(POLL_SECONDS)
        yield
    finally:
        lock.release()


def hold_process_lock(engine: Engine) -> Connection | None:
    """In a scoring process: hold "scoring-process" shared until the process ends.

    The connection is never closed here: the session ends with the process, and
    with it the lock. None on SQLite, where runs never fork."""
    if engine.dialect.name != "postgresql":
        return None
    connection = engine.connect()
    lease_store.advisory_lock_shared(connection, PROCESS_LOCK)
    connection.commit()
    return connection
