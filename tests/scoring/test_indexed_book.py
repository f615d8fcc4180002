"""A book kept between runs and patched (scoring.columnar.indexed_book) scores as a fresh one.

The service keeps the book's columns and the run's index of them between ticks
and patches both with the rows written since (worker.run.book_cache). After
any sequence of patches (rows replaced, rows added, new people, new party
sets, new colleagues sorting among the known ones), with runs in between that
code records the book never met, the patched setup must be array for array
what a fresh build over the patched columns gives, and the scores those of a
fresh run over the same interactions.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta
from hashlib import blake2b
from typing import Any

import numpy as np
import numpy.typing as npt
from hypothesis import given
from hypothesis import strategies as st

from scoring.columnar import ColumnarRun, ColumnsBuilder, columns_of
from scoring.columnar.indexed_book import BookSetup, IndexedBook, book_setup
from scoring.model import (
    Direction,
    Interaction,
    Kind,
    Party,
    RecordRef,
    RecordScope,
    RecordType,
    Role,
    ScoringSettings,
)
from tests.scoring.factories import NOW, property_settings
from tests.scoring.test_columnar_equivalence import NAMES, interactions, moments, scopes, settings


def _same(got: BookSetup, want: BookSetup) -> None:
    for part in ("tables", "index"):
        for field in fields(getattr(want, part)):
            mine, theirs = (
                getattr(getattr(got, part), field.name),
                getattr(getattr(want, part), field.name),
            )
            if isinstance(theirs, np.ndarray):
                assert mine.dtype == theirs.dtype, field.name
                assert np.array_equal(mine, theirs), field.name
            else:
                assert mine == theirs, field.name
    assert np.array_equal(got.tracked, want.tracked)


def _hashes(keys: npt.NDArray[np.bytes_]) -> npt.NDArray[np.uint64]:
    return np.array(
        [int.from_bytes(blake2b(key, digest_size=8).digest()) for key in keys.tolist()],
        dtype=np.uint64,
    )


class _Book:
    """A book read by one builder, as the service's reader reads the rows written since."""

    def __init__(self, book: list[Interaction], built: bool) -> None:
        self.builder = ColumnsBuilder()
        self.builder.add_interactions(book)
        self.current = {interaction.key: interaction for interaction in book}
        self.indexed = IndexedBook(self.builder.finish())
        self.indexed.key_hashes = _hashes(self.indexed.columns.keys)
        if built:
            self.indexed.built()

    def patch(self, rows: list[Interaction]) -> None:
        self.builder.add_interactions(rows)
        fresh = self.builder.finish()
        replaced = np.isin(self.indexed.columns.keys, fresh.keys)
        keep = None if not replaced.any() else ~replaced
        self.indexed = self.indexed.patched(keep, fresh, _hashes(fresh.keys))
        self.current.update((row.key, row) for row in rows)
        # The merged rows are those of a fresh read, in the same (chronological) order.
        merged, read = self.indexed.columns, columns_of(self.current.values())
        assert merged.interactions(np.arange(len(merged))) == read.interactions(
            np.arange(len(read))
        )
        # The keys' hashes are carried with their rows.
        assert self.indexed.key_hashes is not None
        assert np.array_equal(self.indexed.key_hashes, _hashes(self.indexed.columns.keys))

    def scores(self, records: list[RecordScope], chosen: ScoringSettings, now: datetime) -> Any:
        columns = self.indexed.columns
        return list(ColumnarRun(columns, chosen, now, NAMES, self.indexed.built()).score(records))

    def fresh_scores(
        self, records: list[RecordScope], chosen: ScoringSettings, now: datetime
    ) -> Any:
        book = columns_of(self.current.values())
        return list(ColumnarRun(book, chosen, now, NAMES).score(records))


@st.composite
def patches(draw: st.DrawFn, keys: list[str]) -> list[list[Interaction]]:
    """Patches of rows: each row replaces a row of the book (same key) or is new."""
    result: list[list[Interaction]] = []
    taken = set(keys)
    for number in range(draw(st.integers(1, 4))):
        rows = draw(interactions(count=8))
        patch: list[Interaction] = []
        for row in rows:
            if draw(st.booleans()) and taken:
                key = draw(st.sampled_from(sorted(taken)))
            else:
                key = f"p{number}-{row.key}"
            if key not in {kept.key for kept in patch}:
                patch.append(row._replace(key=key))
                taken.add(key)
        result.append(patch)
    return result


@property_settings
@given(st.data(), interactions(), scopes(), settings(), moments, st.booleans())
def test_a_patched_book_scores_as_a_fresh_one(
    data: st.DataObject,
    book: list[Interaction],
    records: list[RecordScope],
    chosen: ScoringSettings,
    now: datetime,
    built: bool,
) -> None:
    kept = _Book(book, built)  # a run may not have built the setup before the first patch
    for patch in data.draw(patches([interaction.key for interaction in book])):
        kept.patch(patch)
        _same(kept.indexed.built(), book_setup(kept.indexed.columns))
        assert kept.scores(records, chosen, now) == kept.fresh_scores(records, chosen, now)


def test_a_new_colleague_sorting_first_moves_the_known_colleagues_codes() -> None:
    seller = RecordRef(RecordType.SYSTEM_USER, "u5")
    customer = RecordRef(RecordType.CONTACT, "c0")
    email = Interaction(
        key="k1",
        kind=Kind.EMAIL,
        direction=Direction.OUTBOUND,
        occurred_at=NOW - timedelta(days=3),
        internal=(Party(seller, Role.FROM),),
        external=(Party(customer, Role.TO),),
    )
    kept = _Book([email], built=True)
    first = Party(RecordRef(RecordType.SYSTEM_USER, "u0"), Role.TO)
    kept.patch([email._replace(key="k2", internal=(first, *email.internal))])

    setup = kept.indexed.built()

    assert setup.tables.users == ["u0", "u5"]
    _same(setup, book_setup(kept.indexed.columns))
