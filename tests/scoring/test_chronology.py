"""A record's history comes out oldest first, and interactions at the same second by key."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from scoring.model import Direction, Interaction, Kind, ScoringSettings
from scoring.prepared import ScoringTime, influence_weights, prepare_sorted
from tests.scoring.factories import NOW


def _email(key: str, seconds_ago: int) -> Interaction:
    return Interaction(
        key, Kind.EMAIL, Direction.OUTBOUND, NOW - timedelta(seconds=seconds_ago), (), ()
    )


@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=4), st.integers(min_value=0, max_value=5)),
        unique_by=lambda item: item[0],
        max_size=40,
    ),
    st.randoms(use_true_random=False),
)
def test_order_is_by_time_then_key_whatever_the_input_order(
    emails: list[tuple[str, int]], shuffle: object
) -> None:
    # At most six distinct seconds for up to forty emails: runs of ties at the
    # start, the middle and the end of the history.
    interactions = [_email(key, seconds_ago) for key, seconds_ago in emails]
    shuffle.shuffle(interactions)  # type: ignore[attr-defined]

    rows = prepare_sorted(interactions, ScoringTime.at(NOW), influence_weights(ScoringSettings()))

    expected = sorted(interactions, key=lambda i: (i.occurred_at, i.key))
    assert [row.interaction.key for row in rows] == [i.key for i in expected]
