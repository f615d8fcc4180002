"""Large blocks straight from the kernel and back: the C allocator's tuning for a
scoring run.

A columnar run allocates and frees numpy arrays of tens of MB (a block of the
read, the per-visit figures). glibc serves a block above its mmap threshold
with its own mapping, given back on free; but after each such free it raises
the threshold to that block's size (up to 32 MB), so the next ones come from
the heap, where freed memory stays with the process. On the 200k benchmark
book that kept about 100 MB more resident after a run than the run still
held. Fixing the threshold (mallopt M_MMAP_THRESHOLD, which also stops the
raising) gives every large array back when it is freed. Without glibc this
does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value
TRIM_THRESHOLD_BYTES = 1 << 20


@functools.cache
def large_blocks_returned() -> None:
    """Once per process: large blocks mapped on their own and unmapped when freed."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
