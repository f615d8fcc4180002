"""Scoring's `RecordHealth` -> the column values written back to the store."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import accumulate, chain, islice, repeat
from operator import add, attrgetter, getitem
from typing import Any

import msgspec
import numpy as np

from scoring.model import (
    Factor,
    HealthState,
    RecordHealth,
    RecordType,
    Trend,
    WeakestContact,
    WeekCounts,
)
from storage.kpi_rows import KPI_VALUES, JsonColumn, KpiValues, json_column
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
        try:
            text = b",".join(map(self._weeks.get, map(id, weekly)))  # type: ignore[arg-type]
        except TypeError:  # a week not encoded yet (None)
            text = b",".join([self._week(week) for week in weekly])
        column = json_column(b"[" + text + b"]")
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
            column = json_column(self._encode(value))
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
    """The records' column values, each column made for all of them by C-level calls
    (map, zip over attribute getters) where it can be; only the caches of timelines
    and top colleagues and the weakest key contact run Python code per record."""
    kpis = list(map(_KPIS, healths))
    scores = list(map(_SCORE, healths))
    states = list(map(_NUMBERS.__getitem__, map(_STATE, healths)))
    trends = list(map(_NUMBERS.__getitem__, map(_TREND, healths)))
    # Reasons name people and days: most records' are their own, so they are encoded
    # each time (a cache of them missed four times in five); none encode as [].
    reasons = map(json_column, map(_encode, map(_REASONS, healths)))
    middle = zip(
        map(_TIMELINES.column, map(_WEEKLY, kpis)),
        map(_MOST_CONTACTED.column, map(_COLLEAGUES, kpis)),
        map(_ACCURACY, kpis),
        scores,
        states,
        trends,
        _factor_columns(healths),
        reasons,
        strict=True,
    )
    weakest = map(_weakest_values, map(_WEAKEST, healths))
    values = map(_new_values, map(add, map(add, map(_KPI_SCALARS, kpis), middle), weakest))
    records = list(map(_RECORD, healths))
    types = map(_TYPE_NAMES.__getitem__, map(_TYPE, records))
    shown = zip(scores, states, trends, strict=True) if show_health else repeat(_HIDDEN)
    return map(_new_result, zip(types, map(_ID, records), shown, values, strict=True))


_KPIS, _SCORE, _STATE, _TREND = (attrgetter(name) for name in ("kpis", "score", "state", "trend"))
_FACTORS, _REASONS, _WEAKEST, _RECORD = (
    attrgetter(name) for name in ("factors", "reasons", "weakest", "record")
)
_WEEKLY, _COLLEAGUES, _ACCURACY = (
    attrgetter(name) for name in ("weekly", "most_contacted", "computation_accuracy")
)
_TYPE, _ID = attrgetter("type"), attrgetter("id")


def _weakest_values(weakest: WeakestContact | None) -> tuple[Any, ...]:
    if weakest is None:
        return _NO_WEAKEST
    return (weakest.person.id, weakest.role.value, weakest.score, weakest.since)


def _factor_columns(healths: list[RecordHealth]) -> Iterator[JsonColumn]:
    """Each record's factors column: the factors of all the records rounded together
    (`_factor_json`), each record's slice of them encoded (none encode as [])."""
    counts = list(map(len, map(_FACTORS, healths)))
    factors = _factor_json(list(chain.from_iterable(map(_FACTORS, healths))))
    slices = map(slice, accumulate(counts, initial=0), accumulate(counts))
    return map(json_column, map(_encode, map(getitem, repeat(factors), slices)))


def _factor_json(factors: list[Factor]) -> list[_FactorJson]:
    """The factors as their JSON objects, value and points rounded as the table keeps them."""
    values = _rounded(list(map(_VALUE, factors)), 4)
    points = _rounded(list(map(_POINTS, factors)), 2)
    names, weights, details = map(_NAME, factors), map(_WEIGHT, factors), map(_DETAIL, factors)
    return list(map(_FactorJson, names, values, weights, points, details))


_NAME, _VALUE, _WEIGHT, _POINTS, _DETAIL = (
    attrgetter(name) for name in ("name", "value", "weight", "points", "detail")
)


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
