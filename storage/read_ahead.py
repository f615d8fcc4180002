"""Reading what a batch needs from the store while its items are still being made.

Write-back compares each record it writes with what is stored for it. Read for
a whole batch once the batch is complete, the store's answer keeps the scoring
process waiting (at 1M interactions about 0.15 s a batch of 10,000 records,
the server looking up each record by key). Read a part of the batch at a time
by a background thread, as soon as the part's items are made, the reads overlap
the making of the next items, and only the batch's last part is waited for.
The thread spends its time in the database driver, which releases the GIL
while it waits for the server (as storage.write_behind's writer does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import TypeVar

Item = TypeVar("Item")
Found = TypeVar("Found")


def read_ahead(
    items: Iterable[Item],
    read: Callable[[list[Item]], Found],
    *,
    batch_size: int,
    part_size: int,
    threaded: bool = True,
) -> Iterator[tuple[list[Item], list[Found]]]:
    """`items` in batches of `batch_size` (the last may be smaller), each with what
    `read` found for each of its parts of at most `part_size` items, in order.

    `threaded`: parts are read by a background thread while the next items are
    made; else each is read when made (SQLite: one writer in the process, nothing
    to overlap). A failed read is raised when its batch is complete.
    """
    if batch_size < 1 or part_size < 1:
        raise ValueError(f"batch_size and part_size must be >= 1, not {batch_size}, {part_size}")
    iterator = iter(items)
    reader = ThreadPoolExecutor(1, thread_name_prefix="read-ahead") if threaded else None
    submit = _read_now if reader is None else reader.submit
    try:
        while True:
            batch: list[Item] = []
            reads: list[Future[Found]] = []
            while len(batch) < batch_size:
                part = list(islice(iterator, min(part_size, batch_size - len(batch))))
                if not part:
                    break
                batch += part
                reads.append(submit(read, part))
            if not batch:
                return
            yield batch, [done.result() for done in reads]
    finally:
        if reader is not None:  # left early: the reads not begun are not needed
            reader.shutdown(cancel_futures=True)


def _read_now(read: Callable[[list[Item]], Found], part: list[Item]) -> Future[Found]:
    done: Future[Found] = Future()
    try:
        done.set_result(read(part))
    except Exception as error:  # raised when the batch is complete, as a thread's would be
        done.set_exception(error)
    return done
