"""Python's cyclic garbage collector, paused while a scoring run holds the book.

A scoring run builds millions of small tuples (interactions, prepared rows,
index lists) that never form reference cycles. CPython's cyclic collector
runs after every few hundred allocations and, every so often, walks every
live container object: on the 1M benchmark that was 6.5 s of a 25 s run, for
no garbage found. Reference counting still frees everything the run drops;
only cyclic garbage waits until the run ends, when collection resumes.
Forked scoring processes inherit the pause, which also keeps the collector
from writing to shared pages and undoing copy-on-write.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pauses:
    """Runs in flight that asked for the pause: the service runs scoring in a thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.resume = False  # whether collection was on when the first pause began


_pauses = _Pauses()


@contextmanager
def collection_paused() -> Iterator[None]:
    """Cyclic collection off for the block; back to how it was when the last block ends."""
    with _pauses.lock:
        if _pauses.depth == 0:
            _pauses.resume = gc.isenabled()
            gc.disable()
        _pauses.depth += 1
    try:
        yield
    finally:
        with _pauses.lock:
            _pauses.depth -= 1
            if _pauses.depth == 0 and _pauses.resume:
                gc.enable()
