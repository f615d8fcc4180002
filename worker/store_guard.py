"""On SQLite only one worker may run: an exclusive lock on a file beside the database.

The operating system drops the lock when the process ends, however it ends
(even SIGKILL), so a crashed worker never blocks the next one. The file
names the holder, so the refusal can say who it is. Runs (the worker's
scoring, `rapport run --once` beside it) take turns through another lock,
the store's run lock (worker/run_lock.py).
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from worker.failures import UserError


class AnotherWorkerError(UserError):
    """A second worker on one SQLite store."""


def lock_path(database_url: str) -> Path | None:
    """`rapport.db` -> `rapport.db.worker-lock`; None for PostgreSQL or in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).resolve().with_name(Path(url.database).name + ".worker-lock")


@contextmanager
def single_worker(database_url: str, *, now: datetime) -> Iterator[None]:
    """Hold the store's worker lock for the block, or refuse with who holds it."""
    path = lock_path(database_url)
    if path is None:
        yield
        return
    handle = path.open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise AnotherWorkerError(
                f"another rapport worker ({holder}) is already running on the SQLite store "
                f"{path.with_suffix('')}; SQLite allows one worker: stop it, or use PostgreSQL "
                "(RAPPORT_DATABASE_URL=postgresql://...) to run several replicas"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {now.isoformat()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing the file releases the lock
