"""The texts of the interaction copy as codes: each distinct value found by numpy, once.

A million interactions name a few hundred thousand conversations and a few
ten thousand party sets. Interning them value by value in Python (a dictionary
lookup per distinct value per block) was most of the read's own time, so here
no value becomes a Python object but the first time the book meets it: each
block's texts arrive as a byte matrix (one row per value, NUL-padded to a
multiple of 8 bytes; PostgreSQL text holds no NUL); each row is looked up
among the values the book has met so far by a 64-bit hash of its own bytes
(an open-addressing table in numpy arrays, probed for a whole block at once:
each lookup and insert costs the same however many values the book holds,
where a sorted array took a copy of every known hash per block and grew the
read faster than the book), and the rows not found, most of a block only
early in the read, are told apart by one integer sort of their hashes. Every
match is checked byte for byte: two values sharing a hash in one block are
told apart by sorting the rows themselves, and across blocks the book's
values are then looked up by value from that block on. Only the values new
to the book come out as bytes, in the order of their codes.

A text longer than LONG_BYTES (a meeting with dozens of attendees) is rare and
is interned by a dictionary instead, so that one long value never widens a
whole block's matrix. Memory: the book's distinct values once (not each
block's), with a quarter of room at most: about 25 MB at 1M interactions,
kept with the kept book's reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.columnar.columns import Int32s
from scoring.columnar.visits import sorted_groups
from worker.run.malloc_tuning import mapped_apart

Ints = npt.NDArray[np.int64]
Codes = Int32s  # a text's code per row
Digests = npt.NDArray[np.uint64]
Matrix = npt.NDArray[np.uint8]  # rows x width, width a multiple of 8

LONG_BYTES = 256
_FIRST_TABLE_BITS = 12  # a DigestTable's first size: 4,096 slots

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


def distinct_rows(matrix: Matrix, digest: Digests | None = None) -> tuple[Ints, Ints, Digests]:
    """(a row of each distinct value, each row's value number, each value's hash), the
    values in the order of their hashes; `digest`: the rows' hashes, if known."""
    if len(matrix) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64)
    if digest is None:
        digest = row_digests(matrix)
    first, inverse = sorted_groups(digest)
    lanes = matrix.view(np.uint64)
    if not (lanes == _rows(_rows(lanes, first), inverse)).all():
        strings = matrix.view(f"S{matrix.shape[1]}").ravel()
        _values, first, inverse = np.unique(strings, return_index=True, return_inverse=True)
    return first.astype(np.int64), inverse.astype(np.int64).ravel(), digest[first]


def row_digests(matrix: Matrix) -> Digests:
    """A 64-bit hash of each row's value, the same whatever the width of the matrix it
    came in: lanes of 8 bytes mixed from the last to the first, so the padding's zero
    lanes leave the hash at zero until the value's own last lane (never zero: text
    holds no NUL)."""
    lanes = matrix.view(np.uint64)
    digest = np.zeros(len(matrix), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for lane in range(lanes.shape[1] - 1, -1, -1):
            digest ^= lanes[:, lane]
            digest *= _MIXERS[lane % len(_MIXERS)]
            digest ^= digest >> np.uint64(29)
    return digest


class BookTexts:
    """One text field over a whole read: each row gets the book's code of its value as
    soon as its block is read (codes in the order values first appear)."""

    def __init__(self) -> None:
        self.count = 0  # codes given so far
        # The short values known, by code (NUL-padded rows; a long value's row is empty),
        # and the code of each by its hash.
        self._values = np.zeros((0, 8), dtype=np.uint8)
        self._by_digest = DigestTable()
        self._long: dict[bytes, int] = {}
        self._by_value: dict[bytes, int] | None = None  # after a hash collision

    def codes(self, text: Text, new_values: bool = True) -> tuple[Codes, list[bytes]]:
        """Each row's code (-1: NULL), and (if `new_values`) the values new to the book,
        in code order. Each row is looked up among the book's values first: after the
        first blocks most are known, and only the new ones are told apart (sorted)."""
        codes = np.full(text.rows, -1, dtype=np.int32)
        matrix = text.matrix
        digests = row_digests(matrix)
        known = self._known(matrix, digests)
        unknown = np.flatnonzero(known < 0)
        added: list[bytes] = []
        if len(unknown):
            first, inverse, new_digests = distinct_rows(_rows(matrix, unknown), digests[unknown])
            values = _rows(matrix, unknown[first])
            new = np.arange(self.count, self.count + len(first), dtype=np.int64)
            self.count += len(first)
            self._add(values, new_digests, new)
            known[unknown] = new[inverse]
            if new_values:
                added = values.view(f"S{values.shape[1]}").ravel().tolist()
        codes[text.short] = known
        for row, value in zip(text.long.tolist(), text.long_values, strict=True):
            code = self._long.get(value)
            if code is None:
                code = self._long[value] = self.count
                self.count += 1
                if new_values:
                    added.append(value)
            codes[row] = code
        return codes, added

    def encoded(self) -> npt.NDArray[np.bytes_]:
        """Every value of the book by code, as one bytes array (no object per value): the
        values held, as they are, when none is long (codes only grow and a value's row
        is never written again, so the book's columns and this share them)."""
        width = self._values.shape[1]
        encoded = self._values[: self.count].view(f"S{width}").ravel()
        if self._long:
            encoded = encoded.astype(f"S{max(width, *map(len, self._long))}")
            for value, code in self._long.items():
                encoded[code] = value
        return encoded

    def _known(self, values: Matrix, digests: Digests) -> Ints:
        """The code of each value, -1 for a value new to the book."""
        if self._by_value is not None:
            found = self._by_value.get
            texts = values.view(f"S{values.shape[1]}").ravel().tolist()
            return np.array([found(text, -1) for text in texts], dtype=np.int64)
        codes = self._by_digest.find(digests)
        matched = np.flatnonzero(codes >= 0)
        if not _same(_rows(values, matched), _rows(self._values, codes[matched])):
            self._by_value = self._every_value()  # two values share a hash: look up by value
            return self._known(values, digests)
        return codes

    def _add(self, values: Matrix, digests: Digests, codes: Ints) -> None:
        if self._by_value is not None:
            texts = values.view(f"S{values.shape[1]}").ravel().tolist()
            self._by_value.update(zip(texts, codes.tolist(), strict=True))
        self._room(self.count, values.shape[1])
        # Long values' codes come between short ones: their rows stay empty.
        self._values[codes, : values.shape[1]] = values
        self._by_digest.add(digests, codes)

    def _room(self, rows: int, width: int) -> None:
        """`_values` at least `rows` x `width`, grown by a quarter as needed: each value is
        copied a few times in all, not once per block, and the room held beyond the
        book's values (for the kept book's life) is a quarter at most, not as many."""
        held = self._values
        if rows <= len(held) and width <= held.shape[1]:
            return
        with mapped_apart():
            shape = (max(rows, _grown(len(held))), max(width, held.shape[1]))
            grown = np.zeros(shape, dtype=np.uint8)
        grown[: len(held), : held.shape[1]] = held
        self._values = grown

    def _every_value(self) -> dict[bytes, int]:
        texts = self._values[: self.count].view(f"S{self._values.shape[1]}").ravel().tolist()
        return {text: code for code, text in enumerate(texts) if text}


class DigestTable:
    """Codes by 64-bit hash: open addressing with linear probing, each slot a code (-1:
    empty) whose hash is kept by code. Never more than half full, so a block's values
    are found or placed in a few vectorised passes; doubling rehashes what it holds
    once (linear in the values overall). A hash may be held twice (values that share
    it, BookTexts then looks up by value): `find` gives the first."""

    def __init__(self) -> None:
        self._bits = _FIRST_TABLE_BITS
        self._slots = np.full(1 << self._bits, -1, dtype=np.int32)
        self._digests = np.zeros(0, dtype=np.uint64)  # by code
        self._held = 0

    def find(self, digests: Digests) -> Ints:
        """The code of each hash, -1 for one not held."""
        found = np.full(len(digests), -1, dtype=np.int64)
        pending, slot = np.arange(len(digests)), self._home(digests)
        while len(pending):
            codes = self._slots[slot]
            held = codes >= 0  # an empty slot ends the search: not held
            pending, slot, codes = pending[held], slot[held], codes[held]
            hit = self._digests[codes] == digests[pending]
            found[pending[hit]] = codes[hit]
            # Another hash in this slot: the next slot.
            pending, slot = pending[~hit], (slot[~hit] + 1) & (len(self._slots) - 1)
        return found

    def add(self, digests: Digests, codes: Ints) -> None:
        """Hold each hash with its code (codes new to the table)."""
        if len(codes) == 0:
            return
        top = int(codes.max()) + 1
        if top > len(self._digests):
            with mapped_apart():
                grown = np.zeros(max(top, _grown(len(self._digests))), dtype=np.uint64)
            grown[: len(self._digests)] = self._digests
            self._digests = grown
        self._digests[codes] = digests
        self._held += len(codes)
        new = codes.astype(np.int32)
        if 2 * self._held > len(self._slots):
            new = np.concatenate([self._slots[self._slots >= 0], new])
            while 2 * self._held > 1 << self._bits:
                self._bits += 1
            with mapped_apart():
                self._slots = np.full(1 << self._bits, -1, dtype=np.int32)
        self._place(new)

    def _home(self, digests: Digests) -> Ints:
        # The hash's top bits: the multiplications mix into them most.
        home: Ints = (digests >> np.uint64(64 - self._bits)).astype(np.int64)
        return home

    def _place(self, codes: npt.NDArray[np.int32]) -> None:
        slot = self._home(self._digests[codes])
        while len(codes):
            free = self._slots[slot] < 0
            # Values wanting the same free slot: one write wins (numpy keeps the last),
            # read back; the others probe on.
            self._slots[slot[free]] = codes[free]
            placed = free & (self._slots[slot] == codes)
            slot = np.where(free, slot, (slot + 1) & (len(self._slots) - 1))
            codes, slot = codes[~placed], slot[~placed]


class Appended:
    """An array appended to block after block (a table by code, say): grown by a quarter
    when full, so appending copies it a few times in all, not once per block as
    np.concatenate did (at 10M interactions, hundreds of blocks times a table of
    a million codes)."""

    def __init__(self, dtype: Any, *row: int) -> None:
        self._held: npt.NDArray[Any] = np.zeros((0, *row), dtype=dtype)
        self._rows = 0

    @property
    def values(self) -> npt.NDArray[Any]:
        """What was appended so far (a view: read it before the next append)."""
        return self._held[: self._rows]

    def extend(self, values: npt.ArrayLike) -> None:
        added = np.asarray(values, dtype=self._held.dtype)
        rows = self._rows + len(added)
        if rows > len(self._held):
            shape = (max(rows, _grown(len(self._held))), *self._held.shape[1:])
            with mapped_apart():
                grown = np.zeros(shape, dtype=self._held.dtype)
            grown[: self._rows] = self._held[: self._rows]
            self._held = grown
        self._held[self._rows : rows] = added
        self._rows = rows


def _grown(rows: int) -> int:
    """A table's rows once grown: a quarter more (the few copies this takes cost less
    than holding twice the book's values)."""
    return rows + rows // 4


def _rows(matrix: npt.NDArray[Any], rows: Ints) -> npt.NDArray[Any]:
    """matrix[rows], by np.take: several times faster than indexing for a matrix's rows."""
    taken: npt.NDArray[Any] = np.take(matrix, rows, axis=0)
    return taken


def _same(rows: Matrix, others: Matrix) -> bool:
    """Whether each row holds the same value as the other row beside it, compared 8
    bytes at a time (the wider matrix's extra bytes must be padding)."""
    if rows.shape[1] > others.shape[1]:
        rows, others = others, rows
    width = rows.shape[1]
    lanes, other_lanes = rows.view(np.uint64), others.view(np.uint64)
    return bool(
        (lanes == other_lanes[:, : width // 8]).all() and not other_lanes[:, width // 8 :].any()
    )
