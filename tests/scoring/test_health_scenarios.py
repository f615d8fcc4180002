"""Relationships a seller recognises, and the grade they should get."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from scoring import (
    Frequency,
    HealthState,
    Interaction,
    Kind,
    RecordScope,
    ScoringSettings,
    Trend,
    score_records,
)
from tests.scoring.factories import (
    DANA,
    DEAL,
    LATER,
    LEE,
    NAMES,
    NOW,
    call,
    contact_scope,
    days_ago,
    factor,
    health_of,
    meeting,
    one_way_outreach,
    primary_goes_silent,
    thread,
    three_weeks_silent,
    two_way_history,
)


def recent_two_way_multichannel() -> list[Interaction]:
    return two_way_history(DANA, weeks=8)


def replies_but_no_meetings() -> list[Interaction]:
    history: list[Interaction] = []
    for week in range(8):
        sent = days_ago(7 * week + 2)
        history += thread(f"t{week}", [(sent, False), (sent + timedelta(hours=20), True)])
    return history


def went_quiet_half_a_year_ago() -> list[Interaction]:
    return two_way_history(DANA, weeks=8, end=days_ago(180))


@pytest.mark.parametrize(
    ("relationship", "expected"),
    [
        (recent_two_way_multichannel, HealthState.GOOD),
        (one_way_outreach, HealthState.POOR),
        (went_quiet_half_a_year_ago, HealthState.POOR),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_relationships_grade_as_a_seller_expects(
    relationship: Callable[[], list[Interaction]], expected: HealthState
) -> None:
    health = health_of(relationship())

    assert health.state == expected


def test_email_only_exchange_scores_below_one_with_meetings_and_calls() -> None:
    emails_only = health_of(replies_but_no_meetings())
    multichannel = health_of(recent_two_way_multichannel())

    assert emails_only.score is not None and multichannel.score is not None
    assert factor(emails_only, "activity_mix") < factor(multichannel, "activity_mix")
    assert emails_only.score < multichannel.score


class TestStrategicOpportunity:
    """The primary contact goes silent while a secondary contact stays engaged."""

    def test_primary_contact_drops_from_good_to_fair_or_worse_within_30_days(self) -> None:
        before = health_of(primary_goes_silent(), contact_scope(DANA), now=NOW)
        after = health_of(primary_goes_silent(), contact_scope(DANA), now=LATER)

        assert before.state == HealthState.GOOD
        assert after.state in (HealthState.FAIR, HealthState.POOR)
        assert after.trend == Trend.DECLINING

    def test_secondary_contact_stays_good(self) -> None:
        after = health_of(primary_goes_silent(), contact_scope(LEE), now=LATER)

        assert after.state == HealthState.GOOD

    def test_reasons_name_the_silent_contact_with_dates(self) -> None:
        after = health_of(primary_goes_silent(), contact_scope(DANA), now=LATER)

        assert "3 emails to Dana Ruiz unanswered since 2026-11-21" in after.reasons
        assert "Dana Ruiz skipped 2 of the last 3 meetings (1 declined)" in after.reasons
        assert any(
            reason.startswith("no reply, call or meeting from Dana Ruiz since 2026-11-1")
            for reason in after.reasons
        )

    def test_opportunity_scored_over_both_contacts_keeps_the_engaged_one_in_view(self) -> None:
        scope = RecordScope(DEAL, "Contoso renewal", frozenset({DANA, LEE}))
        [deal] = score_records([scope], primary_goes_silent(), ScoringSettings(), LATER, NAMES)
        [primary] = score_records(
            [contact_scope(DANA)], primary_goes_silent(), ScoringSettings(), LATER, NAMES
        )

        assert deal.score is not None and primary.score is not None
        assert deal.score > primary.score


def test_monthly_rhythm_judges_a_three_week_silence_more_kindly_than_daily() -> None:
    daily = health_of(three_weeks_silent(), scoring=ScoringSettings(frequency=Frequency.DAILY))
    monthly = health_of(three_weeks_silent(), scoring=ScoringSettings(frequency=Frequency.MONTHLY))

    assert daily.score is not None and monthly.score is not None
    assert monthly.score > daily.score
    assert monthly.state == HealthState.GOOD
    assert daily.state != HealthState.GOOD


def test_longer_expected_gaps_never_score_the_same_silence_lower() -> None:
    by_expected_gap = [
        Frequency.DAILY,
        Frequency.EVERY_FEW_DAYS,
        Frequency.WEEKLY,
        Frequency.EVERY_COUPLE_OF_WEEKS,
        Frequency.MONTHLY,
    ]
    scores = [
        health_of(three_weeks_silent(), scoring=ScoringSettings(frequency=frequency)).score
        for frequency in by_expected_gap
    ]

    assert scores == sorted(scores)  # type: ignore[type-var]
    assert scores[0] != scores[-1]


def meeting_heavy() -> list[Interaction]:
    meetings = [meeting(days_ago(days)) for days in (2, 12, 22, 32, 42)]
    return [*meetings, *thread("catch-up", [(days_ago(20), False), (days_ago(19), True)])]


def email_heavy() -> list[Interaction]:
    history: list[Interaction] = [meeting(days_ago(40))]
    for days in (1, 5, 9, 13, 17, 21, 25, 29):
        replied = days_ago(days, hours=2)
        history += thread(f"mail-{days}", [(replied - timedelta(hours=3), False), (replied, True)])
    return history


def influence(**by_kind: int) -> ScoringSettings:
    values = dict.fromkeys(Kind, 6)
    values.update({Kind(kind): value for kind, value in by_kind.items()})
    return ScoringSettings(influence=values)


@pytest.mark.parametrize(
    ("important", "scoring", "winner", "loser"),
    [
        ("meetings", influence(meeting=3, email=9), meeting_heavy, email_heavy),
        ("emails", influence(email=3, meeting=9), email_heavy, meeting_heavy),
    ],
    ids=["meetings-important", "emails-important"],
)
def test_raising_an_activity_types_importance_ranks_relationships_rich_in_it_higher(
    important: str,
    scoring: ScoringSettings,
    winner: Callable[[], list[Interaction]],
    loser: Callable[[], list[Interaction]],
) -> None:
    winner_score = health_of(winner(), scoring=scoring).score
    loser_score = health_of(loser(), scoring=scoring).score

    assert winner_score is not None and loser_score is not None
    assert winner_score > loser_score, important


def test_a_call_counts_as_two_way_contact_for_recency() -> None:
    history = [*one_way_outreach(), call(days_ago(1))]

    assert factor(health_of(history), "recency") == 1.0
    assert factor(health_of(one_way_outreach()), "recency") == 0.0
