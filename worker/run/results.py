"""Scoring's `RecordHealth` -> the column values written back to the store."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import islice
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np

from scoring.model import (
    Factor,
    HealthState,
    Kpis,
    RecordHealth,
    RecordType,
    Trend,
    WeekCounts,
)
from storage.kpi_rows import EMPTY_LIST, KPI_VALUES, JsonColumn, KpiValues
from storage.writeback import Health, RecordResult

# Sizes of the encoding caches below: about 12 MB at most, per process.
# Most timelines are a record's own tuple: few entries, so that emptying them costs little.
TIMELINES_CACHED = 1_024  # emptied when full
WEEKS_CACHED = 65_536  # emptied when full
REPEATS_CACHED = 8_192  # emptied when full

_encode = msgspec.json.Encoder().encode


class TimelineJson:
    """The weekly column of a timeline, joined from its weeks' encodings.

    Scoring shares `WeekCounts` between records (scoring.kpis.WeeklyTimeline,
    scoring.columnar.kpis.Weeks): each week is encoded once, found again by its
    identity, and a timeline is the join of its weeks' texts. A timeline tuple that
    records share (the reference core shares every one; the columnar core the
    quiet records' one) is joined once too, found by the tuple's identity. Each cache
    keeps what it was built from alive, so that no other object can take an id it
    holds. Only the JSON text is kept (the value is decoded from it if SQLite asks).
    """

    def __init__(self) -> None:
        self._timelines: dict[int, tuple[tuple[WeekCounts, ...], JsonColumn]] = {}
        self._weeks: dict[int, bytes] = {}  # by id: each week in `_kept`
        self._kept: list[WeekCounts] = []

    def column(self, weekly: tuple[WeekCounts, ...]) -> JsonColumn:
        cached = self._timelines.get(id(weekly))
        if cached is not None:  # the very tuple: the cache holds it alive
            return cached[1]
        weeks = list(map(self._weeks.get, map(id, weekly)))
        if None in weeks:
            weeks = [self._week(week) for week in weekly]
        column = JsonColumn.encoded(b"[" + b",".join(weeks) + b"]")  # type: ignore[arg-type]
        if len(self._timelines) >= TIMELINES_CACHED:
            self._timelines.clear()
        self._timelines[id(weekly)] = (weekly, column)
        return column

    def _week(self, week: WeekCounts) -> bytes:
        cached = self._weeks.get(id(week))
        if cached is not None:  # the very week: `_kept` holds it alive
            return cached
        value = {
            "week_start": week.week_start.date().isoformat(),
            "emails_sent": week.emails_sent,
            "emails_received": week.emails_received,
            "meetings": week.meetings,
            "phone_calls": week.phone_calls,
        }
        data = _encode(value)
        if len(self._weeks) >= WEEKS_CACHED:
            self._weeks.clear()
            self._kept.clear()
        self._weeks[id(week)] = data
        self._kept.append(week)
        return data


class _Repeats:
    """JSON columns of values that repeat between records (top colleagues), by value:
    tuples of str and int hash cheaply. Emptied when full."""

    def __init__(self, encode: Callable[[Any], bytes]) -> None:
        self._encode = encode
        self._columns: dict[Any, JsonColumn] = {}

    def column(self, value: Any) -> JsonColumn:
        column = self._columns.get(value)
        if column is None:
            column = JsonColumn.encoded(self._encode(value))
            if len(self._columns) >= REPEATS_CACHED:
                self._columns.clear()
            self._columns[value] = column
        return column


_TIMELINES = TimelineJson()
# An Enum's `.value` is a Python-level property; a dict lookup is not.
_TYPE_NAMES = {record_type: record_type.value for record_type in RecordType}


class _ColleagueJson(msgspec.Struct, gc=False):
    """One of the colleagues in touch most, as its JSON object (as `_FactorJson`)."""

    system_user_id: str
    interactions: int


def _colleagues(most_contacted: tuple[tuple[str, int], ...]) -> bytes:
    return _encode([_ColleagueJson(user_id, count) for user_id, count in most_contacted])


_MOST_CONTACTED = _Repeats(_colleagues)


class _FactorJson(msgspec.Struct, gc=False):
    """One factor as its JSON object: msgspec encodes a Struct's fields in order, so
    the text is the one a dict of the same keys gave, built without the dict."""

    name: str
    value: float
    weight: float
    points: float
    detail: str


def _reasons(reasons: tuple[str, ...]) -> JsonColumn:
    """Reasons name people and days: most records' are their own, so they are encoded
    each time (a cache of them missed four times in five)."""
    return JsonColumn.encoded(_encode(reasons)) if reasons else EMPTY_LIST  # a tuple: a list


# The Kpis fields before the JSON lists, which KpiValues starts with in the same order.
_KPI_SCALARS = attrgetter(*KPI_VALUES[: KPI_VALUES.index("weekly")])
_NO_WEAKEST = (None, None, None, None)
# Tuples made without NamedTuple's Python-level constructor: one of each per record.
_new_values: Callable[[Iterable[Any]], KpiValues] = partial(tuple.__new__, KpiValues)
_new_result: Callable[[Iterable[Any]], RecordResult] = partial(tuple.__new__, RecordResult)
# IntEnum -> int by lookup rather than by int(), a call per record.
_NUMBERS: dict[HealthState | Trend | None, int | None] = {
    None: None,
    **{state: int(state) for state in HealthState},
    **{trend: int(trend) for trend in Trend},
}
_HIDDEN: Health = (None, None, int(Trend.NOT_APPLICABLE))
RESULTS_AT_ONCE = 1_024  # records whose factors are rounded together (`_rounded`)


def to_results(healths: Iterable[RecordHealth], *, show_health: bool) -> Iterator[RecordResult]:
    """Each record's column values, as `to_result`, made `RESULTS_AT_ONCE` records at
    a time: their factors' numbers are rounded in one pass over arrays."""
    healths = iter(healths)
    while chunk := list(islice(healths, RESULTS_AT_ONCE)):
        yield from _chunk_results(chunk, show_health)


def to_result(health: RecordHealth, *, show_health: bool) -> RecordResult:
    """One record's column values; `show_health` False hides its score, state and trend
    from the record's own fields (its KPI row keeps them)."""
    return next(_chunk_results([health], show_health))


def _chunk_results(healths: list[RecordHealth], show_health: bool) -> Iterator[RecordResult]:
    factors = _factor_json([factor for health in healths for factor in health.factors])
    at = 0
    timeline, colleagues, numbers, names = (
        _TIMELINES.column,
        _MOST_CONTACTED.column,
        _NUMBERS,
        _TYPE_NAMES,
    )
    for health in healths:
        kpis: Kpis = health.kpis
        state, trend = numbers[health.state], numbers[health.trend]
        count = len(health.factors)
        if count:
            factor_column = JsonColumn.encoded(_encode(factors[at : at + count]))
            at += count
        else:
            factor_column = EMPTY_LIST
        weakest = health.weakest
        values = _new_values(
            (
                *_KPI_SCALARS(kpis),
                timeline(kpis.weekly),
                colleagues(kpis.most_contacted),
                kpis.computation_accuracy,
                health.score,
                state,
                trend,
                factor_column,
                _reasons(health.reasons),
                *(
                    _NO_WEAKEST
                    if weakest is None
                    else (weakest.person.id, weakest.role.value, weakest.score, weakest.since)
                ),
            )
        )
        record = health.record
        shown = (health.score, state, trend) if show_health else _HIDDEN
        yield _new_result((names[record.type], record.id, shown, values))


def _factor_json(factors: list[Factor]) -> list[_FactorJson]:
    """The factors as their JSON objects, value and points rounded as the table keeps them."""
    values = _rounded([factor.value for factor in factors], 4)
    points = _rounded([factor.points for factor in factors], 2)
    return [
        _FactorJson(factor.name, value, factor.weight, point, factor.detail)
        for factor, value, point in zip(factors, values, points, strict=True)
    ]


# Beyond this a float's units are not held exactly enough for `_rounded`'s test.
_ROUNDED_EXACTLY_BELOW = 1e9
_HALFWAY_MARGIN = 1e-6
_ROUNDED_ONE_BY_ONE_BELOW = 32


def _rounded(values: list[float], digits: int) -> list[float]:
    """`round(value, digits)` of each value, bit for bit, in one pass over an array.

    round() gives the float nearest to the exact value's nearest multiple of
    10**-digits. Scaled by 10**digits (one rounding, off by at most 1e-7 below
    `_ROUNDED_EXACTLY_BELOW`), the nearest integer is that multiple's unless the
    scaled value lies within `_HALFWAY_MARGIN` of a half; dividing that integer by
    10**digits is one correctly rounded division, so it gives the same float as
    round(). The values in doubt (near a half, large, NaN, infinite) are rounded by
    round() itself.
    """
    if len(values) < _ROUNDED_ONE_BY_ONE_BELOW:  # numpy's fixed cost is not worth it
        return [round(value, digits) for value in values]
    scale = 10.0**digits
    with np.errstate(all="ignore"):  # NaN and infinities: in doubt, rounded by round()
        scaled = np.asarray(values, dtype=np.float64) * scale
        nearest = np.rint(scaled)
        sure = (np.abs(np.abs(scaled - nearest) - 0.5) > _HALFWAY_MARGIN) & (
            np.abs(scaled) < _ROUNDED_EXACTLY_BELOW
        )
    rounded: list[float] = (nearest / scale).tolist()
    for at in np.flatnonzero(~sure).tolist():
        rounded[at] = round(values[at], digits)
    return rounded
