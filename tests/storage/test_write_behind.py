"""Batches written in a background thread: all of them, in order, failures where they belong."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from storage.write_behind import write_all_behind


class DiskFull(Exception):
    pass


class ScoringFailed(Exception):
    pass


def test_every_batch_is_written_in_order_by_another_thread() -> None:
    written: list[int] = []
    writers: set[str] = set()

    def write(batch: int) -> None:
        writers.add(threading.current_thread().name)
        written.append(batch)

    write_all_behind(write, iter(range(50)))

    assert written == list(range(50))
    assert writers == {"write-behind"}


def test_a_failed_write_stops_the_writing_and_reaches_the_caller() -> None:
    written: list[int] = []
    produced: list[int] = []

    def write(batch: int) -> None:
        if batch == 3:
            raise DiskFull("no space left")
        written.append(batch)

    def batches() -> Iterator[int]:
        for batch in range(1000):
            produced.append(batch)
            yield batch

    with pytest.raises(DiskFull, match="no space left"):
        write_all_behind(write, batches())

    assert written == [0, 1, 2]  # nothing after the batch that failed
    assert len(produced) < 1000  # the producer was stopped, not run to the end


def test_when_producing_fails_the_batches_handed_over_are_still_written() -> None:
    written: list[int] = []
    release = threading.Event()

    def write(batch: int) -> None:
        release.wait()  # slower than the producer: batches wait in the queue
        written.append(batch)

    def batches() -> Iterator[int]:
        yield 0
        yield 1
        release.set()
        raise ScoringFailed("record r9 could not be scored")

    with pytest.raises(ScoringFailed, match="r9"):
        write_all_behind(write, batches())

    assert written == [0, 1]


def test_the_producers_error_is_the_one_raised_when_both_fail() -> None:
    def write(batch: int) -> None:
        raise DiskFull

    def batches() -> Iterator[int]:
        yield 0
        raise ScoringFailed

    with pytest.raises(ScoringFailed):
        write_all_behind(write, batches())
