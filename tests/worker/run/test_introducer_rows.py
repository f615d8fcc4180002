"""A run's introducer rows made from the columnar ranking's arrays are the reference's rows.

worker.run.introducers makes the stored rows of a columnar ranking straight from
its arrays (`IntroducerRanking.columnar_rows`); over random books they must be
the rows the reference ranking over the book's interactions gives (`rows`).
"""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from scoring.columnar import columns_of
from scoring.model import Interaction, RecordRef, ScoringSettings
from tests.scoring.factories import PEOPLE, USERS, property_settings
from tests.scoring.test_columnar_equivalence import interactions, moments, settings
from worker.run.introducers import IntroducerRanking


@property_settings
@given(
    interactions(),
    settings(),
    moments,
    st.sets(st.sampled_from(PEOPLE)).map(frozenset),
    st.sets(st.sampled_from(USERS)).map(frozenset),
)
def test_rows_made_from_the_arrays_are_the_reference_rows(
    book: list[Interaction],
    chosen: ScoringSettings,
    now: datetime,
    records: frozenset[RecordRef],
    excluded: frozenset[str],
) -> None:
    book = [i for i in book if i.occurred_at.tzinfo is not None]
    ranking = IntroducerRanking(chosen, now, records, frozenset(USERS), excluded, ())

    made = ranking.columnar_rows(columns_of(book))

    assert sorted(made) == sorted(ranking.rows(book))
    # Each record's rows in rank order, as the reference's.
    ranks: dict[tuple[str, str], list[int]] = {}
    for row in made:
        ranks.setdefault((row.record_type, row.record_id), []).append(row.rank)
    assert all(found == list(range(1, len(found) + 1)) for found in ranks.values())
