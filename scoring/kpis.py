"""Relationship KPIs of one record (the Dynamics `msdyn_*kpiitem` figures)."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

from scoring.model import Kpis, WeekCounts
from scoring.prepared import (
    CALLS_MADE,
    CALLS_RECEIVED,
    EMAILS_RECEIVED,
    EMAILS_SENT,
    MEETINGS_RECEIVED,
    MEETINGS_SENT,
    TIMELINE_COLUMNS,
    TIMELINE_OFF,
    TIMELINE_WEEKS,
    ScoringTime,
)
from scoring.tally import RecordTally

MOST_CONTACTED_LIMIT = 3
# Whole 13-week timelines repeat too (quiet records, one email last week):
# keep up to this many distinct ones per run (a few MB).
TIMELINES_KEPT = 20_000


class WeeklyTimeline:
    """Builds the 13-week timeline, sharing equal weeks between records.

    `WeekCounts` are immutable and most records have the same few weeks
    (empty, one email...), so one scoring run keeps one instance per distinct
    week, and one tuple per distinct timeline, instead of 13 new objects per
    record.
    """

    def __init__(self, time: ScoringTime) -> None:
        self.week_starts = time.week_starts
        self._weeks: dict[tuple[int, ...], WeekCounts] = {}
        self._timelines: dict[tuple[int, ...], tuple[WeekCounts, ...]] = {}

    def weeks(self, timeline: Sequence[int]) -> tuple[WeekCounts, ...]:
        shown = tuple(timeline[:TIMELINE_OFF])  # the last bin holds what is off the timeline
        weeks = self._timelines.get(shown)
        if weeks is None:
            weeks = self._build(shown)
            if len(self._timelines) < TIMELINES_KEPT:
                self._timelines[shown] = weeks
        return weeks

    def _build(self, shown: tuple[int, ...]) -> tuple[WeekCounts, ...]:
        columns = [shown[column::TIMELINE_COLUMNS] for column in range(TIMELINE_COLUMNS)]
        weeks = self._weeks
        return tuple(
            weeks.get(key) or self._new_week(key)
            for key in zip(range(TIMELINE_WEEKS), *columns, strict=True)
        )

    def _new_week(self, key: tuple[int, ...]) -> WeekCounts:
        week, emails_sent, emails_received, meetings, phone_calls = key
        counts = WeekCounts(
            self.week_starts[week], emails_sent, emails_received, meetings, phone_calls
        )
        self._weeks[key] = counts
        return counts


def build_kpis(record: RecordTally, timeline: WeeklyTimeline) -> Kpis:
    tally, threads = record.tally, record.tally.threads
    counts = tally.counts
    last = tally.last.interaction if tally.last is not None else None
    upcoming = record.upcoming.interaction if record.upcoming is not None else None
    emails = counts[EMAILS_SENT] + counts[EMAILS_RECEIVED]
    threaded = sum(threads.threaded) + threads.in_the_loop
    sent_threaded, received_threaded = threads.threaded
    return Kpis(
        emails_sent=counts[EMAILS_SENT],
        emails_received=counts[EMAILS_RECEIVED],
        meetings_sent=counts[MEETINGS_SENT],
        meetings_received=counts[MEETINGS_RECEIVED],
        phone_calls_made=counts[CALLS_MADE],
        phone_calls_received=counts[CALLS_RECEIVED],
        replies_by_us=threads.replies_by_us,
        replies_by_them=threads.replies_by_them,
        time_spent_by_team_minutes=tally.team_minutes,
        time_spent_by_customer_minutes=tally.customer_minutes,
        avg_first_response_by_us_hours=_mean(threads.response_hours_by_us, threads.replies_by_us),
        avg_first_response_by_them_hours=_mean(
            threads.response_hours_by_them, threads.replies_by_them
        ),
        response_rate_by_us=_mean(threads.answered_by_us, received_threaded),
        response_rate_by_them=_mean(threads.answered_by_them, sent_threaded),
        last_activity_at=last.occurred_at if last is not None else None,
        last_activity_kind=last.kind if last is not None else None,
        last_activity_direction=last.direction if last is not None else None,
        next_activity_at=upcoming.occurred_at if upcoming is not None else None,
        next_activity_kind=upcoming.kind if upcoming is not None else None,
        email_opens=tally.opens,
        email_clicks=tally.clicks,
        weekly=timeline.weeks(tally.timeline),
        most_contacted=most_contacted(tally.contacted),
        # Emails outside any conversation cannot be told apart as replies.
        computation_accuracy="partial" if threaded < emails else "complete",
    )


def most_contacted(system_user_ids: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """Top colleagues by interaction count; equal counts by id, so runs agree."""
    counts: dict[str, int] = {}
    for system_user_id in system_user_ids:
        counts[system_user_id] = counts.get(system_user_id, 0) + 1
    # By id, then (stable) by count, most first: two sorts in C, no key calls.
    ranked = sorted(counts.items())
    ranked.sort(key=itemgetter(1), reverse=True)
    return tuple(ranked[:MOST_CONTACTED_LIMIT])


def _mean(total: float, count: int) -> float | None:
    return total / count if count else None
