"""Batches with what was read for them, a part at a time, while the next items are made."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from storage.read_ahead import read_ahead


def _parts(part: list[int]) -> tuple[int, ...]:
    return tuple(part)


@pytest.mark.parametrize("threaded", [True, False])
def test_every_batch_comes_with_the_reads_of_its_parts_in_order(threaded: bool) -> None:
    batches = list(read_ahead(range(10), _parts, batch_size=4, part_size=3, threaded=threaded))

    assert batches == [
        ([0, 1, 2, 3], [(0, 1, 2), (3,)]),
        ([4, 5, 6, 7], [(4, 5, 6), (7,)]),
        ([8, 9], [(8, 9)]),
    ]


def test_parts_are_read_by_another_thread_while_the_items_are_made() -> None:
    made: list[int] = []
    readers: set[threading.Thread] = set()
    overlapped = threading.Event()

    def items() -> Iterator[int]:
        for item in range(4):
            made.append(item)
            if item == 2:  # the first part's read runs while this part is made
                assert overlapped.wait(10)
            yield item

    def read(part: list[int]) -> int:
        readers.add(threading.current_thread())
        overlapped.set()
        return len(part)

    batches = list(read_ahead(items(), read, batch_size=4, part_size=2))

    assert batches == [([0, 1, 2, 3], [2, 2])]
    assert threading.current_thread() not in readers


@pytest.mark.parametrize("threaded", [True, False])
def test_a_failed_read_is_raised_with_its_batch(threaded: bool) -> None:
    def read(part: list[int]) -> int:
        if 5 in part:
            raise RuntimeError("the store went away")
        return len(part)

    batches = read_ahead(range(10), read, batch_size=4, part_size=2, threaded=threaded)

    assert next(batches) == ([0, 1, 2, 3], [2, 2])
    with pytest.raises(RuntimeError, match="the store went away"):
        next(batches)


def test_sizes_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        list(read_ahead(range(3), _parts, batch_size=0, part_size=2))
