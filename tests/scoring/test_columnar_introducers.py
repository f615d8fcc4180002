"""Who knows whom from a book read as columns ranks exactly as from the whole book's values.

scoring.columnar.introducers builds only the interactions the ranking can
count; fed to scoring.introducers.rank_introducers they must give the ranking
of every interaction of the book (random books, any records, colleagues and
exclusions), and the values it builds must be the book's own.
"""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from scoring.columnar import columns_of
from scoring.columnar.introducers import introducer_interactions
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
    st.integers(min_value=1, max_value=7),
)
def test_the_ranking_from_columns_is_the_ranking_of_the_whole_book(
    book: list[Interaction],
    chosen: ScoringSettings,
    now: datetime,
    records: frozenset[RecordRef] | None,
    colleagues: frozenset[str] | None,
    excluded: frozenset[str],
    chunk: int,
) -> None:
    book = [i for i in book if i.occurred_at.tzinfo is not None]
    expected = rank_introducers(
        book, chosen, now, records=records, colleagues=colleagues, excluded=excluded
    )

    columns = columns_of(book)
    picked = list(
        introducer_interactions(
            columns, now, records=records, colleagues=colleagues, excluded=excluded, chunk=chunk
        )
    )

    ranked = rank_introducers(
        picked, chosen, now, records=records, colleagues=colleagues, excluded=excluded
    )
    assert ranked == expected
    by_key = {interaction.key: interaction for interaction in book}
    assert all(by_key[interaction.key] == interaction for interaction in picked)
    assert len(picked) <= len(book)
