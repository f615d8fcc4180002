"""Who knows whom ranked over a book's columns ranks exactly as from the book's values.

scoring.columnar.introducers.rank_columns sums the same (person, colleague)
contributions as scoring.introducers.rank_introducers without building the
interactions; over random books, any records, colleagues, exclusions and
limits it must give the same ranking, also when it reads only the records'
interactions through the book's index (as a tick does) or the sets' people from
the book's tables (as a regrade does), and also when every pair is worked out
again as the reference works it out. Its sums and exp are
numpy's: wherever those may round a strength the other way, it must say so.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.columnar import columns_of, introducers
from scoring.columnar.columns import InteractionColumns
from scoring.columnar.introducers import Ranked, rank_columns
from scoring.columnar.visits import expand, index_book, set_tables
from scoring.introducers import Introducer, rank_introducers, relationship_strength
from scoring.model import Interaction, RecordRef, ScoringSettings
from tests.scoring.factories import PEOPLE, USERS, property_settings
from tests.scoring.test_columnar_equivalence import interactions, moments, settings

RECORDS = st.one_of(st.none(), st.sets(st.sampled_from(PEOPLE)).map(frozenset))
COLLEAGUES = st.one_of(st.none(), st.sets(st.sampled_from(USERS)).map(frozenset))


def _ranked(columns: InteractionColumns, **options: Any) -> dict[RecordRef, tuple[Introducer, ...]]:
    ranked: Ranked = rank_columns(columns, **options)
    return ranked.by_record()


@property_settings
@given(
    interactions(),
    settings(),
    moments,
    RECORDS,
    COLLEAGUES,
    st.sets(st.sampled_from(USERS)).map(frozenset),
    st.integers(min_value=1, max_value=10),
)
def test_the_columnar_ranking_is_the_ranking_of_the_whole_book(
    book: list[Interaction],
    chosen: ScoringSettings,
    now: datetime,
    records: frozenset[RecordRef] | None,
    colleagues: frozenset[str] | None,
    excluded: frozenset[str],
    limit: int,
) -> None:
    book = [i for i in book if i.occurred_at.tzinfo is not None]
    options: dict[str, Any] = {
        "settings": chosen,
        "now": now,
        "records": records,
        "colleagues": colleagues,
        "excluded": excluded,
        "limit": limit,
    }
    expected = rank_introducers(book, **options)

    columns = columns_of(book)
    ranked = _ranked(columns, **options)
    # As a tick ranks: only the records' own interactions, found by the run's index
    # (however much of the book they hold: a tiny book's few people hold most of it).
    tables = set_tables(columns)
    index = index_book(columns, tables)
    indexed = _ranked(columns, index=index, tables=tables, indexed_share=1.0, **options)
    # As a regrade ranks: every interaction, the people's side from the run's tables.
    tabled = _ranked(columns, tables=tables, **options)

    assert ranked == expected
    assert indexed == expected
    assert tabled == expected


def _all_near_and_wrong(
    volume: np.ndarray[Any, Any], both_ways: np.ndarray[Any, Any], counts: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """numpy's strengths gone wrong, every pair marked near a rounding boundary."""
    return np.full(len(volume), 999, dtype=np.int64), np.ones(len(volume), dtype=np.bool_)


@property_settings
@given(interactions(), settings(), moments)
def test_pairs_near_a_rounding_boundary_are_worked_out_as_the_reference_does(
    book: list[Interaction], chosen: ScoringSettings, now: datetime
) -> None:
    # Every pair marked near a boundary: each is summed again with math.fsum over
    # weights decayed with math.exp, whatever numpy made of it.
    book = [i for i in book if i.occurred_at.tzinfo is not None]
    expected = rank_introducers(book, chosen, now)
    with patch.object(introducers, "_strengths", _all_near_and_wrong):
        assert _ranked(columns_of(book), settings=chosen, now=now) == expected


WEIGHT = st.floats(min_value=1e-3, max_value=1.5)


@given(
    st.lists(
        st.lists(st.tuples(WEIGHT, st.booleans()), min_size=1, max_size=60),
        min_size=1,
        max_size=20,
    )
)
def test_a_strength_numpy_may_round_otherwise_is_marked_near_a_boundary(
    pairs: list[list[tuple[float, bool]]],
) -> None:
    # Each pair's weights summed by numpy, as rank_columns sums them: where the
    # strength is not the reference's of math.fsum's sums, the pair must be marked.
    weights = np.array([weight for pair in pairs for weight, _ in pair])
    both_ways = np.array([weight if both else 0.0 for pair in pairs for weight, both in pair])
    counts = np.array([len(pair) for pair in pairs])
    starts = np.cumsum(counts) - counts
    volume = np.add.reduceat(weights, starts)
    strength, near = introducers._strengths(volume, np.add.reduceat(both_ways, starts), counts)

    for k, pair in enumerate(pairs):
        exact = relationship_strength(
            math.fsum(weight for weight, _ in pair),
            math.fsum(weight for weight, both in pair if both),
        )
        assert strength[k] == exact or near[k]


def test_a_figure_on_a_rounding_boundary_is_marked() -> None:
    # 100 x (1 - exp(-v / 6)) x 1 is 50.5 for this volume (both ways all along).
    volume = -6 * math.log(1 - 0.505)
    strength, near = introducers._strengths(
        np.array([volume, 6.0]), np.array([volume, 6.0]), np.array([1, 1])
    )
    assert near.tolist() == [True, False]
    assert strength[1] == relationship_strength(6.0, 6.0)


def test_a_fan_out_past_int32_is_refused_rather_than_wrapped() -> None:
    # Contributions are numbered in int32: 2**31 of them would wrap to wrong pairs.
    with pytest.raises(OverflowError, match="2\\*\\*31 elements"):
        expand(np.array([1 << 30, 1 << 30], dtype=np.int64), np.int32)
    owner, offset = expand(np.array([2, 0, 1], dtype=np.int64), np.int32)
    assert owner.tolist() == [0, 0, 2] and offset.tolist() == [0, 1, 0]
