"""A book kept between runs with what a run works out from it alone, both patched.

A run's setup is in part the book's, whatever `now` and the settings: the
party sets' tables (party_tables.py), the index of the interactions by
person and by regarding record (visits.index_book) and which interactions
have email opens or clicks recorded. At a million interactions building it
takes about half a second, on every tick of the service, which keeps the book
between ticks and patches it with the rows written since
(worker.run.book_cache). So the book is kept as an `IndexedBook`, and once a
run has built its setup, a patch of the columns (`IndexedBook.patched`) patches
the setup too (`patched_setup`): the kept rows' entries move to their new
positions (the columns stay in chronological order, so a row moves by the
rows put before it; the order of the kept rows among themselves does not
change), the replaced rows' entries go, the fresh rows' are merged in, and
only the party sets coded since are decoded. The result is exactly what a
fresh build over the patched columns gives (tests/scoring/test_indexed_book.py),
for a few passes at memory speed over the index instead of sorting it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.columnar.builder import chronological
from scoring.columnar.columns import DTYPES, Bools, InteractionColumns, Ints
from scoring.columnar.kpi_sums import tracked_interactions
from scoring.columnar.party_tables import SetTables, extended_tables, set_tables
from scoring.columnar.visits import BookIndex, index_book, person_pairs


@dataclass
class BookSetup:
    """The run's setup that depends on the book alone."""

    tables: SetTables
    index: BookIndex
    tracked: Bools  # by position: email opens or clicks recorded (kpi_sums.tracked_interactions)


def book_setup(columns: InteractionColumns) -> BookSetup:
    tables = set_tables(columns)
    return BookSetup(tables, index_book(columns, tables), tracked_interactions(columns))


@dataclass
class IndexedBook:
    """A book's columns and, once a run has built it, their setup (None: not yet).

    A book patched from another holds the other's setup and the moves until a run
    asks for its own (`built`): the patch is then timed as the run's setup, not as
    the read."""

    columns: InteractionColumns
    setup: BookSetup | None = None
    # By row, a hash of its key, when whoever keeps the book matches keys by them
    # (worker.run.book_cache); patched with the rows.
    key_hashes: npt.NDArray[np.uint64] | None = None
    _patch: tuple[BookSetup, Ints, Ints] | None = None

    def built(self) -> BookSetup:
        """The setup, built (or patched) now if no run has asked for it yet."""
        if self.setup is None:
            if self._patch is None:
                self.setup = book_setup(self.columns)
            else:
                setup, moved, fresh = self._patch
                self.setup, self._patch = patched_setup(setup, self.columns, moved, fresh), None
        return self.setup

    def patched(
        self,
        keep: Bools | None,
        fresh: InteractionColumns,
        fresh_hashes: npt.NDArray[np.uint64] | None = None,
    ) -> IndexedBook:
        """This book's rows `keep` (None: all) and the `fresh` rows (their keys' hashes
        `fresh_hashes`), in chronological order, coded by the reader that coded these (so
        their codes mean the same; the fresh columns hold the codes as they now stand).
        These columns are emptied on the way: the book is never held twice."""
        setup = None if self.setup is None and self._patch is None else self.built()
        rows = len(self.columns)
        columns, order = _merged(self.columns, keep, fresh)
        book = IndexedBook(columns)
        if self.key_hashes is not None and fresh_hashes is not None:
            kept = self.key_hashes if keep is None else self.key_hashes[keep]
            book.key_hashes = np.concatenate([kept, fresh_hashes])[order]
        if setup is not None:
            moved, added = _moves(order, keep, rows)
            book._patch = (setup, moved, added)
        return book


def _merged(
    kept: InteractionColumns, keep: Bools | None, fresh: InteractionColumns
) -> tuple[InteractionColumns, Ints]:
    """The kept rows `keep` and the fresh rows, in chronological order (`kept` is emptied
    on the way), and that order of the kept rows kept, then the fresh ones."""

    def kept_rows(name: str) -> npt.NDArray[Any]:
        column: npt.NDArray[Any] = getattr(kept, name)
        return column if keep is None else column[keep]

    times = np.concatenate([kept_rows("ts_us"), fresh.ts_us])
    keys = np.concatenate([kept_rows("keys"), fresh.keys])
    order = chronological(times, keys)
    arrays: dict[str, npt.NDArray[Any]] = {"ts_us": times[order], "keys": keys[order]}
    del times, keys
    for name in DTYPES.keys() - arrays.keys():
        arrays[name] = np.concatenate([kept_rows(name), getattr(fresh, name)])[order]
        setattr(kept, name, None)
    merged = InteractionColumns(
        **arrays,
        sets=fresh.sets,
        refs=fresh.refs,
        conversations=fresh.conversations,
        broken=[*kept.broken, *fresh.broken],
    )
    return merged, order


def _moves(order: Ints, keep: Bools | None, rows: int) -> tuple[Ints, Ints]:
    """Where each of the `rows` old rows went (-1: not kept) and where each fresh row went,
    the merged rows being the old ones `keep`, then the fresh ones, put in `order`."""
    where = np.empty(len(order), dtype=np.int64)
    where[order] = np.arange(len(order), dtype=np.int64)
    if keep is None:
        return where[:rows], where[rows:]
    staying = int(keep.sum())
    moved = np.full(rows, -1, dtype=np.int64)
    moved[keep] = where[:staying]
    return moved, where[staying:]


def patched_setup(
    setup: BookSetup, columns: InteractionColumns, moved: Ints, fresh: Ints
) -> BookSetup:
    """The setup of `columns`, the columns `setup` was built from with some rows replaced
    and some added: `moved` gives each old row's position in `columns` (-1: replaced),
    `fresh` the positions of the rows added. The party sets and references only grow
    between the two (one reader coded both), so old codes mean what they meant."""
    tables = extended_tables(setup.tables, columns)
    fresh = np.sort(fresh)
    old = setup.index
    # The fresh rows' (position, person) pairs, as index_book makes them.
    pair_position, pair_person = person_pairs(columns.party_set, fresh, tables)
    person, person_position = _merged_pairs(
        old.person, old.person_position, moved, pair_person, pair_position, len(columns)
    )
    regarded = fresh[columns.regarding[fresh] >= 0]
    regarding, regarding_position = _merged_pairs(
        old.regarding,
        old.regarding_position,
        moved,
        columns.regarding[regarded].astype(np.int64),
        regarded,
        len(columns),
    )
    codes = np.arange(len(columns.refs.refs) + 1)
    index = BookIndex(
        person,
        person_position,
        regarding,
        regarding_position,
        np.searchsorted(person, codes),
        np.searchsorted(regarding, codes),
    )
    return BookSetup(tables, index, tracked_interactions(columns))


def _merged_pairs(
    code: Ints, position: Ints, moved: Ints, fresh_code: Ints, fresh_position: Ints, rows: int
) -> tuple[Ints, Ints]:
    """Pairs sorted by code, then position (index_book's order): the old ones moved to
    their new positions (those of replaced rows dropped) and the fresh ones merged in.
    `moved` keeps the old rows' order, so the old pairs stay sorted as they are."""
    position = moved[position]
    alive = position >= 0
    if not alive.all():
        code, position = code[alive], position[alive]
    if not len(fresh_code):
        return code, position
    order = np.lexsort((fresh_position, fresh_code))
    fresh_code, fresh_position = fresh_code[order], fresh_position[order]
    width = rows + 1
    at = np.searchsorted(code * width + position, fresh_code * width + fresh_position)
    return np.insert(code, at, fresh_code), np.insert(position, at, fresh_position)
