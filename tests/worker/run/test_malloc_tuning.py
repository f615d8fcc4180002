"""The allocator's modes for a scoring run: whatever a context sets, the way in force
before comes back after it (a large block freed is given back or kept as before)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from worker.run.malloc_tuning import blocks_from_the_heap, large_blocks_returned, mapped_apart

BLOCK_BYTES = 24 << 20  # under the heap's block limit (32 MB), over the mapped one (128 KB)
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_BYTES


def resident_after_a_freed_block() -> int:
    """How much of a large block, touched and freed, stays resident."""
    before = resident_bytes()
    block = np.ones(BLOCK_BYTES // 8)
    del block
    return resident_bytes() - before


@pytest.fixture(autouse=True)
def _large_blocks_returned() -> None:
    large_blocks_returned()  # what a run sets once per process


def test_a_large_block_is_given_back_when_freed() -> None:
    assert resident_after_a_freed_block() < BLOCK_BYTES // 4


def test_mapped_apart_outside_a_heap_block_leaves_large_blocks_given_back() -> None:
    with mapped_apart():
        pass
    assert resident_after_a_freed_block() < BLOCK_BYTES // 4


def test_a_heap_block_nested_in_another_keeps_the_outer_one_in_force() -> None:
    with blocks_from_the_heap():
        with blocks_from_the_heap():
            pass
        kept = resident_after_a_freed_block()
    assert kept > BLOCK_BYTES // 2
    assert resident_after_a_freed_block() < BLOCK_BYTES // 4
