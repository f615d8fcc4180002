"""Scoring's `RecordHealth` -> the column values written back to the store."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from scoring.model import (
    Factor,
    Kpis,
    RecordHealth,
    RecordType,
    Trend,
    WeekCounts,
)
from storage.kpi_rows import EMPTY_LIST, JsonColumn, KpiValues
from storage.writeback import Health, RecordResult

# Sizes of the encoding caches below: about 12 MB at most, per process.
TIMELINES_CACHED = 4_096  # emptied when full
WEEKS_CACHED = 4_096  # emptied when full
REPEATS_CACHED = 8_192  # least recently used go first


class TimelineJson:
    """The weekly column of a timeline, encoded once per timeline.

    Scoring shares timeline tuples between records, and `WeekCounts` within
    them (scoring.kpis.WeeklyTimeline), so most records hand over a tuple
    already seen: it is looked up by identity, and kept alive by the cache so
    that its id is not reused. A timeline not seen yet is joined from the
    encoded weeks, which repeat even more.
    """

    def __init__(self) -> None:
        self._timelines: dict[int, tuple[tuple[WeekCounts, ...], JsonColumn]] = {}
        self._weeks: dict[int, tuple[WeekCounts, dict[str, Any], str]] = {}

    def column(self, weekly: tuple[WeekCounts, ...]) -> JsonColumn:
        cached = self._timelines.get(id(weekly))
        if cached is not None and cached[0] is weekly:
            return cached[1]
        weeks = [self._week(week) for week in weekly]
        column = JsonColumn(
            [value for _week, value, _text in weeks],
            "[" + ",".join([text for _week, _value, text in weeks]) + "]",
        )
        if len(self._timelines) >= TIMELINES_CACHED:
            self._timelines.clear()
        self._timelines[id(weekly)] = (weekly, column)
        return column

    def _week(self, week: WeekCounts) -> tuple[WeekCounts, dict[str, Any], str]:
        cached = self._weeks.get(id(week))
        if cached is not None and cached[0] is week:
            return cached
        value = {
            "week_start": week.week_start.date().isoformat(),
            "emails_sent": week.emails_sent,
            "emails_received": week.emails_received,
            "meetings": week.meetings,
            "phone_calls": week.phone_calls,
        }
        encoded = (week, value, JsonColumn(value).text)
        if len(self._weeks) >= WEEKS_CACHED:
            self._weeks.clear()
        self._weeks[id(week)] = encoded
        return encoded


_TIMELINES = TimelineJson()
# An Enum's `.value` is a Python-level property; a dict lookup is not.
_TYPE_NAMES = {record_type: record_type.value for record_type in RecordType}


# Reasons and top colleagues repeat between records too (few sentences, few
# colleagues); tuples of str and int hash cheaply, so they are cached by value.
@lru_cache(maxsize=REPEATS_CACHED)
def _reasons(reasons: tuple[str, ...]) -> JsonColumn:
    return JsonColumn(list(reasons))


@lru_cache(maxsize=REPEATS_CACHED)
def _most_contacted(most_contacted: tuple[tuple[str, int], ...]) -> JsonColumn:
    return JsonColumn(
        [{"system_user_id": user_id, "interactions": count} for user_id, count in most_contacted]
    )


def _factors(factors: tuple[Factor, ...]) -> JsonColumn:
    if not factors:
        return EMPTY_LIST
    return JsonColumn(
        [
            {
                "name": f.name,
                "value": round(f.value, 4),
                "weight": f.weight,
                "points": round(f.points, 2),
                "detail": f.detail,
            }
            for f in factors
        ]
    )


def kpi_values(health: RecordHealth) -> KpiValues:
    kpis: Kpis = health.kpis
    weakest = health.weakest  # a deal's or account's weakest key contact; None elsewhere
    return KpiValues(
        emails_sent=kpis.emails_sent,
        emails_received=kpis.emails_received,
        meetings_sent=kpis.meetings_sent,
        meetings_received=kpis.meetings_received,
        phone_calls_made=kpis.phone_calls_made,
        phone_calls_received=kpis.phone_calls_received,
        replies_by_us=kpis.replies_by_us,
        replies_by_them=kpis.replies_by_them,
        time_spent_by_team_minutes=kpis.time_spent_by_team_minutes,
        time_spent_by_customer_minutes=kpis.time_spent_by_customer_minutes,
        avg_first_response_by_us_hours=kpis.avg_first_response_by_us_hours,
        avg_first_response_by_them_hours=kpis.avg_first_response_by_them_hours,
        response_rate_by_us=kpis.response_rate_by_us,
        response_rate_by_them=kpis.response_rate_by_them,
        last_activity_at=kpis.last_activity_at,
        last_activity_kind=kpis.last_activity_kind,
        last_activity_direction=kpis.last_activity_direction,
        next_activity_at=kpis.next_activity_at,
        next_activity_kind=kpis.next_activity_kind,
        email_opens=kpis.email_opens,
        email_clicks=kpis.email_clicks,
        weekly=_TIMELINES.column(kpis.weekly),
        most_contacted=_most_contacted(kpis.most_contacted),
        computation_accuracy=kpis.computation_accuracy,
        health_score=health.score,
        health_state=None if health.state is None else int(health.state),
        health_trend=int(health.trend),
        factors=_factors(health.factors),
        reasons=_reasons(health.reasons),
        weakest_contact_id=None if weakest is None else weakest.person.id,
        weakest_contact_role=None if weakest is None else weakest.role.value,
        weakest_contact_score=None if weakest is None else weakest.score,
        weakest_contact_since=None if weakest is None else weakest.since,
    )


def to_result(health: RecordHealth, *, show_health: bool) -> RecordResult:
    shown: Health = (
        (health.score, None if health.state is None else int(health.state), int(health.trend))
        if show_health
        else (None, None, int(Trend.NOT_APPLICABLE))
    )
    return RecordResult(
        record_type=_TYPE_NAMES[health.record.type],
        record_id=health.record.id,
        health=shown,
        kpi=kpi_values(health),
    )
