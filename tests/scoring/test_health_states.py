"""Health state, trend and explanation rules."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from scoring import (
    HealthState,
    Kind,
    RecordHealth,
    Response,
    ScoringSettings,
    Trend,
    score_record,
    score_records,
)
from tests.scoring.factories import (
    DANA,
    LEE,
    NAMES,
    NOW,
    call,
    contact_scope,
    days_ago,
    email,
    health_of,
    meeting,
    task,
    thread,
    two_way_history,
)


def test_analytics_switched_off_hides_score_state_and_trend() -> None:
    health = health_of(two_way_history(), scoring=ScoringSettings(analytics_enabled=False))

    assert (health.score, health.state, health.trend) == (None, None, Trend.NOT_APPLICABLE)
    assert health.kpis.emails_sent > 0
    assert health.factors == () and health.reasons == ()


class TestStates:
    def test_one_email_is_not_enough_info(self) -> None:
        health = health_of([email(days_ago(1))])

        assert (health.score, health.state) == (None, HealthState.NOT_ENOUGH_INFO)
        assert health.trend == Trend.NOT_ENOUGH_INFO
        assert health.reasons == (
            "1 completed interaction so far; grading starts with 2 in 90 days or 5 in total",
        )

    def test_two_recent_interactions_are_enough(self) -> None:
        health = health_of([email(days_ago(2)), email(days_ago(1), inbound=True)])

        assert health.state in (HealthState.GOOD, HealthState.FAIR, HealthState.POOR)
        assert health.score is not None

    def test_a_long_history_that_went_quiet_is_graded_not_unknown(self) -> None:
        old = [email(days_ago(200 + d), conversation=f"old-{d}") for d in range(5)]

        assert health_of(old).state == HealthState.POOR
        assert health_of(old[:4]).state == HealthState.NOT_ENOUGH_INFO

    def test_only_planned_interactions_mean_no_closed_activities(self) -> None:
        health = health_of([meeting(NOW + timedelta(days=3), planned=True)])

        assert (health.score, health.state) == (None, HealthState.NO_CLOSED_ACTIVITIES)
        assert health.reasons == ("only planned activities so far; next on 2026-11-21",)

    def test_no_interactions_at_all_is_not_enough_info(self) -> None:
        assert health_of([]).state == HealthState.NOT_ENOUGH_INFO

    @pytest.mark.parametrize(
        ("created_days_ago", "last_interaction_days_ago", "expected_dormant"),
        [
            (1000, 800, True),
            (1000, 700, False),  # an interaction within two years
            (700, 710, False),  # the record itself is younger than two years
        ],
    )
    def test_record_older_than_two_years(
        self, created_days_ago: int, last_interaction_days_ago: int, expected_dormant: bool
    ) -> None:
        history = [
            email(days_ago(last_interaction_days_ago + d), conversation=f"c{d}") for d in range(6)
        ]
        scope = contact_scope(created_at=days_ago(created_days_ago))

        health = health_of(history, scope)

        assert (health.state == HealthState.RECORD_OLDER_THAN_2_YEARS) is expected_dormant
        assert (health.score is None) is expected_dormant

    def test_a_planned_meeting_keeps_an_old_record_alive(self) -> None:
        scope = contact_scope(created_at=days_ago(1000))
        history = [email(days_ago(800)), meeting(NOW + timedelta(days=7), planned=True)]

        assert health_of(history, scope).state != HealthState.RECORD_OLDER_THAN_2_YEARS

    def test_grades_follow_the_admins_minimums_exactly_at_the_edges(self) -> None:
        history = two_way_history(weeks=8, end=days_ago(30))
        score = health_of(history).score
        assert score is not None

        def graded(good_min: int, fair_min: int) -> HealthState | None:
            scoring = ScoringSettings(good_min=good_min, fair_min=fair_min)
            return health_of(history, scoring=scoring).state

        assert graded(score, score - 1) == HealthState.GOOD
        assert graded(score + 1, score) == HealthState.FAIR
        assert graded(score + 2, score + 1) == HealthState.POOR


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"good_min": 0}, "good_min"),
        ({"good_min": 101}, "good_min"),
        ({"good_min": 50, "fair_min": 50}, "fair_min"),
        ({"fair_min": -1}, "fair_min"),
        ({"influence": {Kind.EMAIL: 2}}, "influence[email]"),
        ({"influence": {Kind.TASK: 10}}, "influence[task]"),
    ],
)
def test_bad_settings_are_rejected_naming_the_field(changes: dict[str, object], field: str) -> None:
    scoring = ScoringSettings(**changes)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match=field.replace("[", r"\[")):
        score_records([contact_scope()], [], scoring, NOW, NAMES)


def test_a_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        score_record(contact_scope(), [], ScoringSettings(), datetime(2026, 11, 18), NAMES)


def score_at(history: list, now: datetime) -> RecordHealth:  # type: ignore[type-arg]
    return score_record(contact_scope(), history, ScoringSettings(), now, NAMES)


class TestTrend:
    @pytest.mark.parametrize("quiet_days", [0, 3, 6, 9, 12, 15, 21, 30])
    def test_trend_compares_with_the_score_two_weeks_earlier_outside_a_dead_band(
        self, quiet_days: int
    ) -> None:
        history = two_way_history(weeks=8, end=days_ago(quiet_days))

        now = score_at(history, NOW)
        before = score_at(history, NOW - timedelta(days=14))

        assert now.score is not None and before.score is not None
        delta = now.score - before.score
        expected = (
            Trend.STEADY if abs(delta) < 5 else (Trend.IMPROVING if delta > 0 else Trend.DECLINING)
        )
        assert now.trend == expected

    def test_small_changes_read_steady(self) -> None:
        small_changes = 0
        for quiet_days in range(15):
            history = two_way_history(weeks=8, end=days_ago(quiet_days))
            now, before = score_at(history, NOW), score_at(history, NOW - timedelta(days=14))
            assert now.score is not None and before.score is not None
            if 0 < abs(now.score - before.score) < 5:
                small_changes += 1
                assert now.trend == Trend.STEADY

        assert small_changes > 0  # the dead band was exercised

    def test_a_relationship_that_came_back_is_improving(self) -> None:
        history = [
            *two_way_history(weeks=6, end=days_ago(120), prefix="then"),
            *two_way_history(weeks=1, end=NOW, prefix="now"),
        ]

        assert score_at(history, NOW).trend == Trend.IMPROVING

    def test_no_score_two_weeks_ago_means_not_enough_info(self) -> None:
        history = [email(days_ago(5)), email(days_ago(3), inbound=True), call(days_ago(1))]

        health = score_at(history, NOW)

        assert health.score is not None
        assert health.trend == Trend.NOT_ENOUGH_INFO


class TestExplanation:
    def test_factors_add_up_to_the_score(self) -> None:
        health = health_of(two_way_history(weeks=8, end=days_ago(20)))

        assert [f.name for f in health.factors] == [
            "recency",
            "frequency",
            "engagement",
            "activity_mix",
        ]
        assert sum(f.weight for f in health.factors) == pytest.approx(1.0)
        assert health.score == round(sum(f.points for f in health.factors))
        assert all(0 <= f.value <= 1 and f.detail for f in health.factors)

    def test_reasons_carry_names_and_iso_dates(self) -> None:
        history = [
            *two_way_history(weeks=6, end=days_ago(40)),
            email(days_ago(20), conversation="chase-1"),
            email(days_ago(10), conversation="chase-2"),
            meeting(days_ago(15), attendees={DANA: Response.DECLINED}),
            meeting(days_ago(8), attendees={DANA: Response.DECLINED}),
        ]

        reasons = health_of(history).reasons

        assert 1 <= len(reasons) <= 5
        assert "2 emails to Dana Ruiz unanswered since 2026-10-29" in reasons
        assert "Dana Ruiz declined 2 of the last 3 meetings" in reasons
        assert "no reply, call or meeting from Dana Ruiz since 2026-10-08 (41 days)" in reasons

    def test_the_biggest_loss_comes_first(self) -> None:
        history = [
            *two_way_history(weeks=6, end=days_ago(40)),
            email(days_ago(10), conversation="chase"),
        ]

        reasons = health_of(history).reasons

        assert reasons[0].startswith("no reply, call or meeting from Dana Ruiz since")

    def test_a_customer_waiting_on_us_is_called_out(self) -> None:
        history = [
            *two_way_history(weeks=4),
            *thread("question", [(days_ago(4), True), (days_ago(3), True)], contacts=(LEE,)),
        ]
        scope = contact_scope(LEE)

        reasons = health_of(history, scope).reasons

        assert "2 emails from Lee Chen awaiting our reply since 2026-11-14" in reasons

    def test_an_old_unanswered_customer_email_is_no_longer_awaiting_a_reply(self) -> None:
        history = [
            # Nothing from us to Lee after the question (an email of ours in any
            # conversation would have answered it: see the test below).
            *two_way_history(LEE, weeks=4, end=days_ago(5)),
            *thread("thanks", [(days_ago(200), False), (days_ago(199), True)], contacts=(LEE,)),
            *thread("question", [(days_ago(4), True)], contacts=(LEE,)),
        ]

        reasons = health_of(history, contact_scope(LEE)).reasons

        assert "1 email from Lee Chen awaiting our reply since 2026-11-14" in reasons
        assert not any("since 2026-05" in reason for reason in reasons)

    def test_a_healthy_relationship_is_explained_by_its_strengths(self) -> None:
        reasons = health_of(two_way_history(weeks=8)).reasons

        assert reasons[0] == "last two-way contact with Dana Ruiz on 2026-11-17"
        assert "Dana Ruiz replies within 3 hours on average" in reasons

    def test_only_written_contact_is_pointed_out(self) -> None:
        history = thread("t", [(days_ago(9), False), (days_ago(8), True), (days_ago(2), False)])

        assert "no meeting or call yet, only written contact" in health_of(history).reasons

    def test_reasons_fall_back_to_the_record_when_a_name_is_missing(self) -> None:
        history = [email(days_ago(3)), email(days_ago(2))]

        [health] = score_records([contact_scope()], history, ScoringSettings(), NOW, {})

        assert any("Dana Ruiz" in reason for reason in health.reasons)

    def test_tasks_alone_show_no_two_way_contact(self) -> None:
        history = [task(days_ago(d)) for d in (1, 2, 3)]

        health = health_of(history)

        assert health.state == HealthState.POOR
        assert "no reply, call or meeting from Dana Ruiz yet" in health.reasons
