"""The C heap's free pages given back to the kernel (glibc's malloc_trim).

A large read through the driver leaves its result's memory free in the heap
once its rows are Python objects: libpq holds a query's whole result, in
small blocks among the process's other allocations, and glibc keeps the
pages they freed. At 500k CRM records that was about 50 MiB still resident
after the snapshot was read. Without glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


@functools.cache
def glibc() -> ctypes.CDLL | None:
    """The C library, when it is glibc (with mallopt and malloc_trim)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def free_pages_returned() -> None:
    """The heap's free pages given back to the kernel (a millisecond or so)."""
    libc = glibc()
    if libc is not None:
        libc.malloc_trim(0)
