"""Who knows whom ranked over a book's columns ranks exactly as from the book's values.

scoring.columnar.introducers.rank_columns sums the same (person, colleague)
contributions as scoring.introducers.rank_introducers without building the
interactions; over random books, any records, colleagues, exclusions and
limits it must give the same ranking, also when it reads only the records'
interactions through the book's index (as a tick does).
"""

from __future__ import annotations

from datetime import datetime
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from scoring.columnar import columns_of, introducers
from scoring.columnar.introducers import rank_columns
from scoring.columnar.visits import index_book, set_tables
from scoring.introducers import rank_introducers
from scoring.model import Interaction, RecordRef, ScoringSettings
from tests.scoring.factories import property_settings
from tests.scoring.test_columnar_equivalence import PEOPLE, USERS, interactions, moments, settings

RECORDS = st.one_of(st.none(), st.sets(st.sampled_from(PEOPLE)).map(frozenset))
COLLEAGUES = st.one_of(st.none(), st.sets(st.sampled_from(USERS)).map(frozenset))


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
    expected = rank_introducers(
        book, chosen, now, records=records, colleagues=colleagues, excluded=excluded, limit=limit
    )

    columns = columns_of(book)
    ranked = rank_columns(
        columns,
        chosen,
        now,
        records=records,
        colleagues=colleagues,
        excluded=excluded,
        limit=limit,
    )
    # As a tick ranks: only the records' own interactions, found by the run's index
    # (however much of the book they hold: a tiny book's few people hold most of it).
    tables = set_tables(columns)
    with patch.object(introducers, "INDEXED_SHARE", 1.0):
        indexed = rank_columns(
            columns,
            chosen,
            now,
            records=records,
            colleagues=colleagues,
            excluded=excluded,
            limit=limit,
            index=index_book(columns, tables),
            tables=tables,
        )

    assert ranked == expected
    assert indexed == expected


@property_settings
@given(interactions(), settings(), moments, st.integers(min_value=1, max_value=3))
def test_sums_made_a_few_floats_at_a_time_rank_as_the_whole_book(
    book: list[Interaction], chosen: ScoringSettings, now: datetime, at_once: int
) -> None:
    # A regrade's ranking makes its contributions Python floats a slice at a time (a
    # pair's never split): slices of one to three floats cut through every pair.
    book = [i for i in book if i.occurred_at.tzinfo is not None]
    expected = rank_introducers(book, chosen, now)
    with patch.object(introducers, "FLOATS_AT_ONCE", at_once):
        assert rank_columns(columns_of(book), chosen, now) == expected
