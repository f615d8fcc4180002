"""The texts of the interaction copy as codes: each distinct value found by numpy, once.

A million interactions name a few hundred thousand conversations and a few
ten thousand party sets. Interning them value by value in Python (a dictionary
lookup per distinct value per block) was most of the read's own time, so here
no value becomes a Python object while the book is read: each block's texts
arrive as a byte matrix (one row per value, NUL-padded to a multiple of 8 bytes;
PostgreSQL text holds no NUL), their distinct rows are found by a 64-bit hash and
one integer sort (checked row by row; a collision falls back to sorting the rows
themselves), and each row gets a provisional code. When the read ends,
`BookTexts.finish` finds the distinct values of all the blocks' distinct values
the same way: only the book's distinct values become Python objects, once.

A text longer than LONG_BYTES (a meeting with dozens of attendees) is rare and
is interned by a dictionary instead, so that one long value never widens a
whole block's matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.uint8]  # rows x width, width a multiple of 8

LONG_BYTES = 256

_MIXERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93],
    dtype=np.uint64,
)


@dataclass
class Text:
    """One text field of a block's rows: the values up to LONG_BYTES as a matrix, the
    longer ones as bytes; a row in neither is NULL."""

    rows: int
    short: Ints  # the rows whose value is a row of `matrix`, in order
    matrix: Matrix
    long: Ints  # the rows whose value is longer than LONG_BYTES
    long_values: list[bytes]


def distinct_rows(matrix: Matrix) -> tuple[Ints, Ints]:
    """(a row of each distinct value, each row's value number), values numbered in
    the order of their hashes."""
    if len(matrix) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lanes = matrix.view(np.uint64)
    digest = np.zeros(len(matrix), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for lane in range(lanes.shape[1]):
            digest ^= lanes[:, lane]
            digest *= _MIXERS[lane % len(_MIXERS)]
            digest ^= digest >> np.uint64(29)
    first, inverse = _groups(digest)
    if not (lanes == lanes[first][inverse]).all():
        strings = matrix.view(f"S{matrix.shape[1]}").ravel()
        _values, first, inverse = np.unique(strings, return_index=True, return_inverse=True)
    return first.astype(np.int64), inverse.astype(np.int64).ravel()


def _groups(values: npt.NDArray[np.uint64]) -> tuple[Ints, Ints]:
    """(a row of each distinct value, each row's group) by one sort (np.unique hashes
    in numpy 2.3+, several times slower here)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.ones(len(values), dtype=np.bool_)
    new[1:] = ordered[1:] != ordered[:-1]
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


class BookTexts:
    """One text field over a whole read: each block's rows get provisional codes,
    `finish` numbers the book's distinct values."""

    def __init__(self) -> None:
        self._parts: list[Matrix] = []  # each block's distinct short values
        self._short = 0  # provisional codes given to short values so far
        self._long: dict[bytes, int] = {}  # long value -> its number among the long ones

    def codes(self, text: Text) -> Ints:
        """Each row's provisional code (-1: NULL): short values count up from 0 block
        after block, long ones count down from -2."""
        codes = np.full(text.rows, -1, dtype=np.int64)
        first, inverse = distinct_rows(text.matrix)
        codes[text.short] = inverse + self._short
        self._parts.append(text.matrix[first])
        self._short += len(first)
        long = self._long
        for row, value in zip(text.long.tolist(), text.long_values, strict=True):
            codes[row] = -2 - long.setdefault(value, len(long))
        return codes

    def finish(self) -> tuple[Recoding, list[bytes]]:
        """(how provisional codes become the book's; the book's distinct values by code)."""
        width = max((part.shape[1] for part in self._parts), default=8)
        values = np.zeros((self._short, width), dtype=np.uint8)
        at = 0
        for part in self._parts:
            values[at : at + len(part), : part.shape[1]] = part
            at += len(part)
        self._parts = []
        first, inverse = distinct_rows(values)
        distinct: list[bytes] = values[first].view(f"S{width}").ravel().tolist()
        del values
        long, self._long = list(self._long), {}
        # Indexed by provisional code + len(long) + 1: the long values (numbered after
        # the short ones) last first, NULL, then the short values.
        short = len(first)
        table = np.concatenate(
            [
                np.arange(short + len(long) - 1, short - 1, -1, dtype=np.int64),
                np.array([-1], dtype=np.int64),
                inverse,
            ]
        )
        return Recoding(table, len(long) + 1), distinct + long


@dataclass
class Recoding:
    """Provisional codes (BookTexts.codes) -> the book's codes (-1: NULL)."""

    table: Ints
    shift: int

    def __call__(self, codes: Ints) -> Ints:
        recoded: Ints = self.table[codes + self.shift]
        return recoded
