"""The KPI row a CRM shows for a record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scoring import Direction, Kind, Kpis, RecordScope, Response, ScoringSettings
from tests.scoring.factories import (
    ALEX,
    DANA,
    KIM,
    LEE,
    NOW,
    SAM,
    call,
    days_ago,
    email,
    health_of,
    meeting,
    task,
    thread,
)


def kpis_of(*interactions: object, scope: RecordScope | None = None) -> Kpis:
    return health_of(list(interactions), scope).kpis  # type: ignore[arg-type]


def test_counts_by_channel_and_side() -> None:
    kpis = kpis_of(
        email(days_ago(9)),
        email(days_ago(8)),
        email(days_ago(7), inbound=True),
        meeting(days_ago(6)),
        meeting(days_ago(5), inbound=True),
        meeting(days_ago(5, hours=1), inbound=True),
        call(days_ago(4)),
        call(days_ago(3), inbound=True),
        task(days_ago(2)),
    )

    assert (kpis.emails_sent, kpis.emails_received) == (2, 1)
    assert (kpis.meetings_sent, kpis.meetings_received) == (1, 2)
    assert (kpis.phone_calls_made, kpis.phone_calls_received) == (1, 1)


def test_planned_and_future_interactions_are_not_history() -> None:
    kpis = kpis_of(
        email(days_ago(2)),
        meeting(NOW + timedelta(days=2), planned=True),
        email(NOW + timedelta(hours=1)),  # dated after now: not yet
        task(days_ago(1), planned=True),  # overdue and still open
    )

    assert (kpis.emails_sent, kpis.meetings_sent) == (1, 0)


class TestReplies:
    """us: out 09:00, out 10:00 | them: in 15:00 | us: out next day 11:00."""

    T0 = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)

    def conversation(self) -> list[object]:
        t0 = self.T0
        return thread(
            "deal-talk",
            [
                (t0, False),
                (t0 + timedelta(hours=1), False),
                (t0 + timedelta(hours=6), True),
                (t0 + timedelta(hours=26), False),
            ],
        )  # type: ignore[return-value]

    def test_a_change_of_side_is_a_reply(self) -> None:
        kpis = kpis_of(*self.conversation())

        assert (kpis.replies_by_them, kpis.replies_by_us) == (1, 1)

    def test_first_response_time_runs_from_the_first_unanswered_message(self) -> None:
        kpis = kpis_of(*self.conversation())

        assert kpis.avg_first_response_by_them_hours == pytest.approx(6.0)
        assert kpis.avg_first_response_by_us_hours == pytest.approx(20.0)

    def test_response_rates_count_the_messages_that_got_an_answer(self) -> None:
        kpis = kpis_of(*self.conversation())

        # They answered our first two emails, not the third (yet); we answered theirs.
        assert kpis.response_rate_by_them == pytest.approx(2 / 3)
        assert kpis.response_rate_by_us == pytest.approx(1.0)

    def test_conversations_are_independent(self) -> None:
        other = thread("other", [(self.T0 + timedelta(hours=2), True)])

        kpis = kpis_of(*self.conversation(), *other)

        # Their email in another conversation is not a reply to ours.
        assert kpis.replies_by_them == 1
        assert kpis.response_rate_by_us == pytest.approx(1 / 2)

    def test_no_replies_means_no_averages(self) -> None:
        kpis = kpis_of(email(days_ago(3)), email(days_ago(2)))

        assert kpis.avg_first_response_by_them_hours is None
        assert kpis.response_rate_by_them == 0.0
        assert kpis.response_rate_by_us is None

    def test_emails_without_a_conversation_make_the_figures_partial(self) -> None:
        complete = kpis_of(*self.conversation())
        partial = kpis_of(*self.conversation(), email(days_ago(1), conversation=None))

        assert complete.computation_accuracy == "complete"
        assert partial.computation_accuracy == "partial"
        assert partial.emails_sent == complete.emails_sent + 1
        assert partial.response_rate_by_them == complete.response_rate_by_them


def test_time_spent_by_team_and_by_customer() -> None:
    kpis = kpis_of(
        email(days_ago(5)),  # we write 5, they read 2.5
        email(days_ago(4), inbound=True),  # they write 5, we read 2.5
        meeting(
            days_ago(3),
            minutes=60,
            users={SAM: Response.ACCEPTED, ALEX: Response.ACCEPTED},
            attendees={DANA: Response.ACCEPTED, LEE: Response.ACCEPTED, KIM: Response.ACCEPTED},
        ),
        call(days_ago(2), minutes=15),
    )

    # The meeting counts once per colleague present, once for the customer.
    assert kpis.time_spent_by_team_minutes == pytest.approx(7.5 + 2 * 60 + 15)
    assert kpis.time_spent_by_customer_minutes == pytest.approx(7.5 + 60 + 15)


def test_a_colleague_who_declined_spent_no_time_in_the_meeting() -> None:
    kpis = kpis_of(
        meeting(days_ago(3), minutes=30, users={SAM: Response.ACCEPTED, ALEX: Response.DECLINED})
    )

    assert kpis.time_spent_by_team_minutes == pytest.approx(30)


class TestWeeklyTimeline:
    def test_thirteen_iso_weeks_ending_with_the_week_of_now(self) -> None:
        weekly = kpis_of(email(days_ago(1))).weekly

        assert len(weekly) == 13
        assert weekly[-1].week_start == datetime(2026, 11, 16, tzinfo=UTC)
        assert weekly[0].week_start == datetime(2026, 8, 24, tzinfo=UTC)
        assert all(week.week_start.weekday() == 0 for week in weekly)

    def test_each_interaction_lands_in_its_week_by_channel(self) -> None:
        weekly = kpis_of(
            email(datetime(2026, 11, 16, 0, 0, tzinfo=UTC)),  # Monday 00:00: this week
            email(datetime(2026, 11, 15, 23, 59, tzinfo=UTC), inbound=True),  # Sunday: last week
            meeting(datetime(2026, 11, 10, 9, 0, tzinfo=UTC)),
            call(datetime(2026, 8, 24, 9, 0, tzinfo=UTC)),  # the first week shown
            call(datetime(2026, 8, 23, 9, 0, tzinfo=UTC)),  # before it: not shown
        ).weekly

        this_week, last_week, first_week = weekly[-1], weekly[-2], weekly[0]
        assert (this_week.emails_sent, this_week.emails_received) == (1, 0)
        assert (last_week.emails_received, last_week.meetings) == (1, 1)
        assert first_week.phone_calls == 1
        assert sum(week.phone_calls for week in weekly) == 1


def test_last_activity_is_the_latest_completed_and_next_the_earliest_ahead() -> None:
    kpis = kpis_of(
        email(days_ago(3)),
        call(days_ago(1), inbound=True),
        task(days_ago(0, hours=1), planned=True),  # open and overdue: neither
        meeting(NOW + timedelta(days=5), planned=True),
        meeting(NOW + timedelta(days=2), planned=True),
    )

    assert kpis.last_activity_at == days_ago(1)
    assert (kpis.last_activity_kind, kpis.last_activity_direction) == (
        Kind.CALL,
        Direction.INBOUND,
    )
    assert (kpis.next_activity_at, kpis.next_activity_kind) == (
        NOW + timedelta(days=2),
        Kind.MEETING,
    )


def test_most_contacted_colleagues_top_three_with_ties_by_id() -> None:
    users = ["zoe", "amy", "bob", "sam", "bob", "zoe", "amy", "kai"]
    interactions = [email(days_ago(i + 1), users=(user,)) for i, user in enumerate(users)]

    kpis = kpis_of(*interactions)

    assert kpis.most_contacted == (("amy", 2), ("bob", 2), ("zoe", 2))


def test_a_colleague_twice_on_one_interaction_counts_once() -> None:
    kpis = kpis_of(email(days_ago(1), users=(SAM, SAM, ALEX)))

    assert kpis.most_contacted == (("alex", 1), ("sam", 1))


def test_tracked_email_opens_and_clicks_are_summed() -> None:
    kpis = kpis_of(email(days_ago(2), opens=3, clicks=1), email(days_ago(1), opens=2))

    assert (kpis.email_opens, kpis.email_clicks) == (5, 1)


def test_kpis_are_kept_when_analytics_are_switched_off() -> None:
    health = health_of([email(days_ago(1))], scoring=ScoringSettings(analytics_enabled=False))

    assert health.kpis.emails_sent == 1
    assert health.kpis.last_activity_at == days_ago(1)
