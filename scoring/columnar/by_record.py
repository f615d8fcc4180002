"""Sums, counts and first or last visits by record, over a group's visits.

The tally's figures (tally.py and the modules beside it) are each one of
these over some of the visits, which are sorted by record and then by time.
Sums are `np.bincount`, which adds in input order: each record's sum is the
same left-to-right sum of the same floats the reference's pass makes, bit
for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.columnar.columns import Bools, Codes, Floats, Ints


def weighted(index: Ints, weights: npt.NDArray[Any], bins: int) -> Floats:
    """Sums by index, each bin's in input order (np.bincount adds in order)."""
    # A float64 array already: asarray makes no copy.
    return np.asarray(np.bincount(index, weights=weights, minlength=bins), dtype=np.float64)


def pointers(counts: Ints) -> Ints:
    """CSR pointers of rows with `counts` entries each: row i's entries are
    [pointers[i], pointers[i + 1])."""
    ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


def run_starts(sorted_keys: npt.NDArray[Any]) -> Bools:
    """Where each run of equal keys starts (`sorted_keys` sorted, or grouped)."""
    starts = np.ones(len(sorted_keys), dtype=np.bool_)
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return starts


def counts(record: Ints, mask: Bools, records: int) -> Ints:
    counted: Ints = np.bincount(record[np.flatnonzero(mask)], minlength=records)
    return counted


def totals(record: Ints, values: Codes, position: Ints, records: int) -> Ints:
    """Each record's total of `values` (opens, clicks) over the interactions at
    `position`; integer sums, exact in any order, so the interactions with none
    recorded may be left out."""
    total: Ints = weighted(record, np.take(values, position), records).astype(np.int64)
    return total


def last_where(record: Ints, mask: Bools, records: int) -> Ints:
    """Index of the last visit of each record where mask holds (-1: none)."""
    where = np.flatnonzero(mask)
    return last_at(record[where], where, records)


def last_at(visit_record: Ints, where: Ints, records: int) -> Ints:
    """last_where over the visits `where` (ascending), whose records are
    `visit_record`."""
    out = np.full(records, -1, dtype=np.int64)
    out[visit_record] = where  # later writes win: the last one stays
    return out


def first_where(record: Ints, mask: Bools, records: int) -> Ints:
    """Index of the first visit of each record where mask holds (-1: none)."""
    out = np.full(records, -1, dtype=np.int64)
    where = np.flatnonzero(mask)[::-1]
    out[record[where]] = where
    return out


def last_of_each(record: Ints, records: int) -> Ints:
    """Index of each record's last visit (-1: none); `record` sorted."""
    ends = np.searchsorted(record, np.arange(1, records + 1))
    starts = np.searchsorted(record, np.arange(records))
    last: Ints = np.where(ends > starts, ends - 1, -1)
    return last
