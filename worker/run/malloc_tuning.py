"""The C allocator's tuning for a scoring run: large blocks straight from the kernel
and back, and the heap's free pages given back once the book is read.

A columnar run allocates and frees numpy arrays of tens of MB (a block of the
read, the per-visit figures). glibc serves a block above its mmap threshold
with its own mapping, given back on free; but after each such free it raises
the threshold to that block's size (up to 32 MB), so the next ones come from
the heap, where freed memory stays with the process. On the 200k benchmark
book that kept about 100 MB more resident after a run than the run still
held. Fixing the threshold (mallopt M_MMAP_THRESHOLD, which also stops the
raising) gives every large array back when it is freed.

Reading the book also makes and drops a few hundred thousand small objects
(the packed texts decoded, their pieces, lists of codes) between the ones it
keeps; glibc keeps the pages they freed. `free_pages_returned` hands those
back (storage.heap, malloc_trim: 8 MB of 36 on the 200k book, in a millisecond).

Without glibc both do nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from storage.heap import free_pages_returned as free_pages_returned
from storage.heap import glibc

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value
TRIM_THRESHOLD_BYTES = 1 << 20
# While the read parses its blocks, glibc serves blocks up to this from its heap and
# keeps this much free at the heap's top (blocks_from_the_heap).
HEAP_BLOCK_BYTES = 32 << 20  # glibc's largest mmap threshold
HEAP_TOP_BYTES = 64 << 20


@functools.cache
def large_blocks_returned() -> None:
    """Once per process: large blocks mapped on their own and unmapped when freed."""
    _thresholds(MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES)


def _thresholds(mmap_bytes: int, trim_bytes: int) -> None:
    libc = glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, mmap_bytes)
        libc.mallopt(M_TRIM_THRESHOLD, trim_bytes)


@contextmanager
def blocks_from_the_heap() -> Iterator[None]:
    """glibc's heap, not a mapping of their own, for the arrays made and dropped over
    and over: the read's blocks (every array of a block made anew, a few MB each) and a
    share's groups of records (their visits' figures). What they free is kept for the
    next block's or group's; mapped on their own (as large_blocks_returned has it for
    the book's arrays) their pages were faulted in afresh each time, about a fifth of
    the read's CPU. After, large blocks are mapped as they were before and the heap's
    free pages are given back."""
    earlier = _large_blocks_from_the_heap(True)
    try:
        yield
    finally:
        _large_blocks_from_the_heap(earlier)
        free_pages_returned()


@contextmanager
def mapped_apart() -> Iterator[None]:
    """Within blocks_from_the_heap, large blocks mapped on their own again: for what
    outlives a block (the book's columns, grown as they are written, and the text codes'
    tables), so that their room is given back when they are dropped, which the heap
    would not do. Outside it, nothing changes: the way in force before comes back
    either way."""
    earlier = _large_blocks_from_the_heap(False)
    try:
        yield
    finally:
        _large_blocks_from_the_heap(earlier)


# Whether blocks_from_the_heap's thresholds are in force: glibc has no getter, and a
# context nested in another must restore the outer one's, not a fixed default.
_heap_in_force = False


def _large_blocks_from_the_heap(from_heap: bool) -> bool:
    """Large blocks served from the heap (True) or mapped on their own (False); returns
    which it was before."""
    global _heap_in_force
    earlier, _heap_in_force = _heap_in_force, from_heap
    if from_heap:
        _thresholds(HEAP_BLOCK_BYTES, HEAP_TOP_BYTES)
    else:
        _thresholds(MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES)
    return earlier
