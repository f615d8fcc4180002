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

from storage.heap import free_pages_returned as free_pages_returned
from storage.heap import glibc

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value
TRIM_THRESHOLD_BYTES = 1 << 20


@functools.cache
def large_blocks_returned() -> None:
    """Once per process: large blocks mapped on their own and unmapped when freed."""
    libc = glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
