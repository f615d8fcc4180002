"""Scoring's `RecordHealth` -> the column values written back to the store."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec

from scoring.model import (
    Factor,
    Kpis,
    RecordHealth,
    RecordType,
    Trend,
    WeakestContact,
    WeekCounts,
)
from storage.kpi_rows import EMPTY_LIST, JsonColumn, KpiValues
from storage.writeback import Health, RecordResult

# Sizes of the encoding caches below: about 12 MB at most, per process.
TIMELINES_CACHED = 4_096  # emptied when full
WEEKS_CACHED = 4_096  # emptied when full
REPEATS_CACHED = 8_192  # least recently used go first

_encode = msgspec.json.Encoder().encode


class TimelineJson:
    """The weekly column of a timeline, encoded once per timeline.

    Scoring shares timeline tuples between records, and `WeekCounts` within
    them (scoring.kpis.WeeklyTimeline), so most records hand over a tuple
    already seen: it is looked up by identity, and kept alive by the cache so
    that its id is not reused. A timeline not seen yet is joined from the
    encoded weeks, which repeat even more. Only the text is kept (the value is
    decoded from it if SQLite asks): a list of dicts per timeline cost more to
    build than the text, and kept the cache's memory twice as large.
    """

    def __init__(self) -> None:
        self._timelines: dict[int, tuple[tuple[WeekCounts, ...], JsonColumn]] = {}
        self._weeks: dict[int, tuple[WeekCounts, str]] = {}

    def column(self, weekly: tuple[WeekCounts, ...]) -> JsonColumn:
        cached = self._timelines.get(id(weekly))
        if cached is not None and cached[0] is weekly:
            return cached[1]
        column = JsonColumn.encoded("[" + ",".join([self._week(week) for week in weekly]) + "]")
        if len(self._timelines) >= TIMELINES_CACHED:
            self._timelines.clear()
        self._timelines[id(weekly)] = (weekly, column)
        return column

    def _week(self, week: WeekCounts) -> str:
        cached = self._weeks.get(id(week))
        if cached is not None and cached[0] is week:
            return cached[1]
        value = {
            "week_start": week.week_start.date().isoformat(),
            "emails_sent": week.emails_sent,
            "emails_received": week.emails_received,
            "meetings": week.meetings,
            "phone_calls": week.phone_calls,
        }
        text = _encode(value).decode()
        if len(self._weeks) >= WEEKS_CACHED:
            self._weeks.clear()
        self._weeks[id(week)] = (week, text)
        return text


_TIMELINES = TimelineJson()
# An Enum's `.value` is a Python-level property; a dict lookup is not.
_TYPE_NAMES = {record_type: record_type.value for record_type in RecordType}


# Reasons and top colleagues repeat between records too (few sentences, few
# colleagues); tuples of str and int hash cheaply, so they are cached by value.
@lru_cache(maxsize=REPEATS_CACHED)
def _reasons(reasons: tuple[str, ...]) -> JsonColumn:
    return JsonColumn.encoded(_encode(reasons).decode())  # a tuple encodes as a list


class _ColleagueJson(msgspec.Struct, gc=False):
    """One of the colleagues in touch most, as its JSON object (as `_FactorJson`)."""

    system_user_id: str
    interactions: int


@lru_cache(maxsize=REPEATS_CACHED)
def _most_contacted(most_contacted: tuple[tuple[str, int], ...]) -> JsonColumn:
    colleagues = [_ColleagueJson(user_id, count) for user_id, count in most_contacted]
    return JsonColumn.encoded(_encode(colleagues).decode())


class _FactorJson(msgspec.Struct):
    """One factor as its JSON object: msgspec encodes a Struct's fields in order, so
    the text is the one a dict of the same keys gave, built without the dict."""

    name: str
    value: float
    weight: float
    points: float
    detail: str


def _factors(factors: tuple[Factor, ...]) -> JsonColumn:
    """Factors are a record's own (their values are hardly ever shared): encoded
    straight to JSON text, the value decoded only if SQLite asks for it."""
    if not factors:
        return EMPTY_LIST
    rounded = [
        _FactorJson(f.name, round(f.value, 4), f.weight, round(f.points, 2), f.detail)
        for f in factors
    ]
    return JsonColumn.encoded(_encode(rounded).decode())


def _weakest(weakest: WeakestContact | None) -> tuple[Any, ...]:
    """A deal's or account's weakest key contact: id, role, score, since."""
    if weakest is None:
        return _NO_WEAKEST
    return (weakest.person.id, weakest.role.value, weakest.score, weakest.since)


_NO_WEAKEST = (None, None, None, None)


def kpi_values(health: RecordHealth) -> KpiValues:
    """Every relationship_kpi value of one record, in column order (positional: built
    tens of thousands of times a run)."""
    kpis: Kpis = health.kpis
    state = health.state
    return KpiValues(
        kpis.emails_sent,
        kpis.emails_received,
        kpis.meetings_sent,
        kpis.meetings_received,
        kpis.phone_calls_made,
        kpis.phone_calls_received,
        kpis.replies_by_us,
        kpis.replies_by_them,
        kpis.time_spent_by_team_minutes,
        kpis.time_spent_by_customer_minutes,
        kpis.avg_first_response_by_us_hours,
        kpis.avg_first_response_by_them_hours,
        kpis.response_rate_by_us,
        kpis.response_rate_by_them,
        kpis.last_activity_at,
        kpis.last_activity_kind,
        kpis.last_activity_direction,
        kpis.next_activity_at,
        kpis.next_activity_kind,
        kpis.email_opens,
        kpis.email_clicks,
        _TIMELINES.column(kpis.weekly),
        _most_contacted(kpis.most_contacted),
        kpis.computation_accuracy,
        health.score,
        None if state is None else int(state),
        int(health.trend),
        _factors(health.factors),
        _reasons(health.reasons),
        *_weakest(health.weakest),
    )


_HIDDEN: Health = (None, None, int(Trend.NOT_APPLICABLE))


def to_result(health: RecordHealth, *, show_health: bool) -> RecordResult:
    state = health.state
    shown: Health = (
        (health.score, None if state is None else int(state), int(health.trend))
        if show_health
        else _HIDDEN
    )
    record = health.record
    return RecordResult(_TYPE_NAMES[record.type], record.id, shown, kpi_values(health))
