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
    """glibc's heap, not a mapping of their own, for the arrays made while the read's blocks
    are parsed, and what they free kept for the next block's. Every array of a block is
    made and dropped anew, a few MB each: mapped on their own (as large_blocks_returned has
    it for the book's arrays) their pages were faulted in afresh block after block,
    about a fifth of the read's CPU. After, large blocks are mapped on their own
    again and the heap's free pages are given back."""
    _blocks_from_the_heap(True)
    try:
        yield
    finally:
        _blocks_from_the_heap(False)
        free_pages_returned()


@contextmanager
def mapped_apart() -> Iterator[None]:
    """Within blocks_from_the_heap, large blocks mapped on their own again: for what a
    block keeps (its columns, dropped when the book's columns are put together,
    which is when a mapping gives them back and the heap would not)."""
    _blocks_from_the_heap(False)
    try:
        yield
    finally:
        _blocks_from_the_heap(True)


def _blocks_from_the_heap(heap: bool) -> None:
    if heap:
        _thresholds(HEAP_BLOCK_BYTES, HEAP_TOP_BYTES)
    else:
        _thresholds(MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES)
