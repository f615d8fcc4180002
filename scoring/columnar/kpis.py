"""Every record's KPIs of one group at once (scoring.kpis.build_kpis over tally.py).

Each KPI is a column listed from the group's arrays, named as its field; the
records' `Kpis` are then built in one pass over the columns, taken in the order
of `Kpis`' own fields. The interactions the KPIs quote (last and next activity)
are read from the columns for all records at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from datetime import timedelta
from itertools import starmap

import numpy as np
import numpy.typing as npt

from scoring.columnar.columns import EPOCH, KINDS, InteractionColumns, Ints
from scoring.columnar.tally import BookTally
from scoring.columnar.visits import sorted_groups
from scoring.model import Direction, Kind, Kpis, WeekCounts, new_kpis
from scoring.prepared import (
    CALLS_MADE,
    CALLS_RECEIVED,
    EMAILS_RECEIVED,
    EMAILS_SENT,
    MEETINGS_RECEIVED,
    MEETINGS_SENT,
    TIMELINE_COLUMNS,
    TIMELINE_WEEKS,
    ScoringTime,
)

_INBOUND, _OUTBOUND = Direction.INBOUND, Direction.OUTBOUND


class _Quoted:
    """The time, kind and direction of one visit per record (-1: none)."""

    def __init__(self, book: BookTally, columns: InteractionColumns, visits: Ints) -> None:
        has = (visits >= 0).tolist()
        if len(book.visits.position):
            at = book.visits.position[np.maximum(visits, 0)]
            us, kind = columns.ts_us[at].tolist(), columns.kind[at].tolist()
            inbound = columns.inbound[at].tolist()
        else:
            us, kind, inbound = [0] * len(has), [0] * len(has), [False] * len(has)
        # columns.moment, inline: EPOCH + timedelta(microseconds=us), a call less each.
        epoch, delta = EPOCH, timedelta
        self.at = [epoch + delta(0, 0, u) if h else None for u, h in zip(us, has, strict=True)]
        self.kind: list[Kind | None] = [
            KINDS[k] if h else None for k, h in zip(kind, has, strict=True)
        ]
        self.direction = [
            (_INBOUND if i else _OUTBOUND) if h else None for i, h in zip(inbound, has, strict=True)
        ]


def group_kpis(
    book: BookTally,
    columns: InteractionColumns,
    users: list[str],
    weeks: Weeks,
    count: int,
) -> Iterator[Kpis]:
    """The KPIs of the group's first `count` records (its scopes; the persons read
    for roll-ups after them need none), in order, each built when it is taken: built
    all at once they would live through the group, and the cyclic garbage collector
    walks every live object again and again."""
    return _kpis(book, columns, users, weeks, count)


def _kpis(
    book: BookTally,
    columns: InteractionColumns,
    users: list[str],
    weeks: Weeks,
    count: int,
) -> Iterator[Kpis]:
    last = _Quoted(book, columns, book.now.last[:count])
    upcoming = _Quoted(book, columns, book.upcoming[:count])
    counts = book.counts[:count]
    threaded = book.threaded[:count]
    emails = (counts[:, EMAILS_SENT] + counts[:, EMAILS_RECEIVED]).tolist()
    all_threaded = (threaded[:, 0] + threaded[:, 1] + book.in_the_loop[:count]).tolist()
    replies_by_us = book.replies_by_us[:count].tolist()
    replies_by_them = book.replies_by_them[:count].tolist()
    accuracy = [  # emails outside any conversation cannot be told apart as replies
        "partial" if in_threads < all_emails else "complete"
        for in_threads, all_emails in zip(all_threaded, emails, strict=True)
    ]
    named = {
        "emails_sent": counts[:, EMAILS_SENT].tolist(),
        "emails_received": counts[:, EMAILS_RECEIVED].tolist(),
        "meetings_sent": counts[:, MEETINGS_SENT].tolist(),
        "meetings_received": counts[:, MEETINGS_RECEIVED].tolist(),
        "phone_calls_made": counts[:, CALLS_MADE].tolist(),
        "phone_calls_received": counts[:, CALLS_RECEIVED].tolist(),
        "replies_by_us": replies_by_us,
        "replies_by_them": replies_by_them,
        "time_spent_by_team_minutes": book.team_minutes[:count].tolist(),
        "time_spent_by_customer_minutes": book.customer_minutes[:count].tolist(),
        "avg_first_response_by_us_hours": _means(book.hours_by_us[:count].tolist(), replies_by_us),
        "avg_first_response_by_them_hours": _means(
            book.hours_by_them[:count].tolist(), replies_by_them
        ),
        "response_rate_by_us": _means(
            book.answered_by_us[:count].tolist(), threaded[:, 1].tolist()
        ),
        "response_rate_by_them": _means(
            book.answered_by_them[:count].tolist(), threaded[:, 0].tolist()
        ),
        "last_activity_at": last.at,
        "last_activity_kind": last.kind,
        "last_activity_direction": last.direction,
        "next_activity_at": upcoming.at,
        "next_activity_kind": upcoming.kind,
        "email_opens": book.opens[:count].tolist(),
        "email_clicks": book.clicks[:count].tolist(),
        "weekly": _timelines(book, weeks, count),
        "most_contacted": _most_contacted(book, users, count),
        "computation_accuracy": accuracy,
    }
    if named.keys() != set(_FIELDS):  # a KPI added to Kpis, or one named wrongly here
        raise RuntimeError(f"KPI columns {sorted(named)} are not Kpis' fields {_FIELDS}")
    # By position, in the order of Kpis' own fields: a frozen dataclass takes its 24
    # fields by position a third faster than by name.
    return starmap(new_kpis, zip(*(named[name] for name in _FIELDS), strict=True))


_FIELDS = tuple(field.name for field in fields(Kpis))


class Weeks:
    """The run's distinct weeks of the KPI timeline, each one WeekCounts shared by every
    record that has it (as scoring.kpis.WeeklyTimeline shares them)."""

    def __init__(self, time: ScoringTime) -> None:
        self.week_starts = time.week_starts
        self._weeks: dict[tuple[int, ...], WeekCounts] = {}
        self._numbered: dict[tuple[int, int], WeekCounts] = {}
        self._quiet: tuple[WeekCounts, ...] | None = None

    def numbered(self, number: int, base: int) -> WeekCounts:
        """The week of a number _timelines made (its counts in base `base`)."""
        found = self._numbered.get((number, base))
        if found is None:
            found = self._numbered[number, base] = self.of(_week_key(number, base))
        return found

    def quiet(self) -> tuple[WeekCounts, ...]:
        """The 13 weeks of a record with nothing in them."""
        if self._quiet is None:
            empty = (0,) * TIMELINE_COLUMNS
            self._quiet = tuple(self.of((week, *empty)) for week in range(TIMELINE_WEEKS))
        return self._quiet

    def of(self, key: tuple[int, ...]) -> WeekCounts:
        """The week of `key`: (week, emails sent, emails received, meetings, calls)."""
        found = self._weeks.get(key)
        if found is None:
            week, *counts = key
            found = self._weeks[key] = WeekCounts(self.week_starts[week], *counts)
        return found


def _timelines(book: BookTally, weeks: Weeks, count: int) -> list[tuple[WeekCounts, ...]]:
    """Each record's 13 weeks, its weeks taken by index from an array of the group's
    distinct weeks (found once, by sorting the weeks as one number each), all
    records' in one take."""
    timeline = book.timeline[:count]
    # A record with nothing in its 13 weeks (a quiet one, often most) shares one tuple.
    timelines = [weeks.quiet()] * count
    active = np.flatnonzero(timeline.any(axis=1))
    for index, weekly in zip(
        active.tolist(), _active_timelines(timeline[active], weeks), strict=True
    ):
        timelines[index] = weekly
    return timelines


# A week's four counts below this (a week with 4,096 emails sent is past any book's),
# its number is below 4,096**4 * 13 < 2**52.
_WEEK_BASE = 4096


def _active_timelines(timeline: Ints, weeks: Weeks) -> list[tuple[WeekCounts, ...]]:
    count = len(timeline)
    if count == 0:
        return []
    cells = timeline.reshape(count, TIMELINE_WEEKS, TIMELINE_COLUMNS)
    # A week as one number: its four counts in base `base`, then which week it is. One
    # base for every group whose counts fit it, so that a week's number is the same in
    # every group and its WeekCounts is found by number (Weeks.numbered) after the first.
    base = max(int(cells.max(initial=0)) + 1, _WEEK_BASE)
    if base**TIMELINE_COLUMNS * TIMELINE_WEEKS >= 2**62:  # counts no book reaches
        return _timelines_by_rows(cells, weeks)
    key = np.zeros((count, TIMELINE_WEEKS), dtype=np.int64)
    for column in range(TIMELINE_COLUMNS):
        key = key * base + cells[:, :, column]
    key = key * TIMELINE_WEEKS + np.arange(TIMELINE_WEEKS)
    distinct, week_of = _distinct(key.ravel())
    week_objects = np.empty(len(distinct), dtype=object)
    for number, found in enumerate(distinct.tolist()):
        week_objects[number] = weeks.numbered(found, base)
    taken: list[list[WeekCounts]] = week_objects[week_of.reshape(count, -1)].tolist()
    return list(map(tuple, taken))


def _distinct(values: Ints) -> tuple[Ints, Ints]:
    """(the distinct values sorted, which of them each value is)."""
    rows, which = sorted_groups(values)
    return values[rows], which


def _week_key(number: int, base: int) -> tuple[int, ...]:
    """(week, emails sent, emails received, meetings, calls) of a week's number."""
    number, week = divmod(number, TIMELINE_WEEKS)
    counts = []
    for _ in range(TIMELINE_COLUMNS):
        number, value = divmod(number, base)
        counts.append(value)
    return (week, *reversed(counts))


def _timelines_by_rows(cells: npt.NDArray[np.int64], weeks: Weeks) -> list[tuple[WeekCounts, ...]]:
    """Each record's weeks, one Weeks lookup per week (counts too large for one number)."""
    return [
        tuple(weeks.of((week, *counts)) for week, counts in enumerate(row))
        for row in cells.tolist()
    ]


def _means(totals: list[float], counts: list[int]) -> list[float | None]:
    return [total / n if n else None for total, n in zip(totals, counts, strict=True)]


def _most_contacted(
    book: BookTally, users: list[str], count: int
) -> list[tuple[tuple[str, int], ...]]:
    """Each record's top colleagues (kpi_sums.py kept each record's top three, in order)."""
    pairs = list(
        zip(
            [users[user] for user in book.contacted_user.tolist()],
            book.contacted_count.tolist(),
            strict=True,
        )
    )
    starts = np.searchsorted(book.contacted_record, np.arange(count + 1)).tolist()
    return [tuple(pairs[starts[k] : starts[k + 1]]) for k in range(count)]
