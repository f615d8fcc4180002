"""On SQLite only one worker may run: an exclusive lock on a file beside the database.

The operating system drops the lock when the process ends, however it ends
(even SIGKILL), so a crashed worker never blocks the next one. The file
names the holder, so the refusal can say who it is. Runs (the worker's
scoring, `rapport run --once` beside it) take turns through another lock,
the store's run lock (worker/run/lock.py), which is the same kind of file lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from worker.failures import UserError
from worker.run.lock import FileLock, lock_file, this_process


class AnotherWorkerError(UserError):
    """A second worker on one SQLite store."""


@contextmanager
def single_worker(database_url: str, *, now: datetime) -> Iterator[None]:
    """Hold the store's worker lock for the block, or refuse with who holds it."""
    path = lock_file(database_url, ".worker-lock")  # rapport.db.worker-lock
    if path is None:
        yield
        return
    lock = FileLock(path, this_process("rapport worker"), clock=lambda: now)
    try:
        if not lock.try_take():
            raise AnotherWorkerError(
                f"another {lock.holder()} is already running on the SQLite store "
                f"{path.with_suffix('')}; SQLite allows one worker: stop it, or use PostgreSQL "
                "(RAPPORT_DATABASE_URL=postgresql://...) to run several replicas"
            )
        yield
    finally:
        lock.release()
