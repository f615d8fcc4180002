"""Writing batches in a background thread while the caller produces the next one.

On PostgreSQL most of a write-back's time is the server's: parsing the COPY
data, compressing the JSON columns (TOAST), updating indexes and committing,
while the writing process waits. The scoring that produces the next batch
needs only this process's CPU, so the two can overlap: one thread writes
batch n while the caller scores batch n + 1. The thread spends its time in
the database driver, which releases the GIL while it waits for the server.

At most one batch waits in the queue, so memory holds about three batches:
the one being written, the one queued and the one being made. Batches are
written in order, each in its own transaction, so a failure loses at most the
batch that failed, as when they were written one after the other: the writer
stops writing at its first error, which the caller's next `put` (or `close`)
raises.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

Batch = TypeVar("Batch")
QUEUED_BATCHES = 1
_CHECK_SECONDS = 0.1  # how often a blocked `put` looks whether the writer failed


class WriteBehind(Generic[Batch]):
    """`write` called on each batch `put`, in order, in one background thread."""

    def __init__(self, write: Callable[[Batch], None]) -> None:
        self._write = write
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=QUEUED_BATCHES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="write-behind", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write(batch)
                except BaseException as error:  # handed to the caller by put/close
                    self._error = error
            # After an error the rest is taken off the queue unwritten, so that a
            # caller blocked in `put` wakes up and sees the error.

    def put(self, batch: Batch) -> None:
        """Queue `batch`; blocks while the queue is full; raises the writer's error."""
        while True:
            self._raise_error()
            try:
                self._queue.put(batch, timeout=_CHECK_SECONDS)
            except queue.Full:
                continue
            return

    def close(self) -> None:
        """Wait until every queued batch is written; raises the writer's error."""
        self._queue.put(None)
        self._thread.join()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


def write_all_behind(write: Callable[[Batch], None], batches: Iterable[Batch]) -> None:
    """Write every batch of `batches` in the background while the next is produced.

    When producing fails, the batches already handed over are still written (they
    are whole batches, as before a failure when writing one after the other) and
    the producer's error is raised, not the writer's.
    """
    writer = WriteBehind(write)
    try:
        for batch in batches:
            writer.put(batch)
    except BaseException:
        with contextlib.suppress(BaseException):
            writer.close()
        raise
    writer.close()
