"""Every record's KPIs of one group at once (scoring.kpis.build_kpis over tally.py).

Each KPI is a column listed from the group's arrays, named as its field; the
records' `Kpis` are then built in one pass over the columns, taken in the order
of `Kpis`' own fields. The interactions the KPIs quote (last and next activity)
are read from the columns for all records at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from itertools import starmap

import numpy as np

from scoring.columnar.columns import KINDS, InteractionColumns, Ints, moment
from scoring.columnar.tally import BookTally
from scoring.kpis import WeeklyTimeline
from scoring.model import Direction, Kind, Kpis, WeekCounts
from scoring.prepared import (
    CALLS_MADE,
    CALLS_RECEIVED,
    EMAILS_RECEIVED,
    EMAILS_SENT,
    MEETINGS_RECEIVED,
    MEETINGS_SENT,
    TIMELINE_OFF,
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
        self.at = [moment(u) if h else None for u, h in zip(us, has, strict=True)]
        self.kind: list[Kind | None] = [
            KINDS[k] if h else None for k, h in zip(kind, has, strict=True)
        ]
        self.direction = [
            (_INBOUND if i else _OUTBOUND) if h else None for i, h in zip(inbound, has, strict=True)
        ]


class GroupKpis:
    """The KPIs of a group's records, built as the records are scored (`of`, in order):
    built all at once they would live through the group, and the cyclic garbage
    collector walks every live object again and again."""

    def __init__(self, kpis: Iterator[Kpis]) -> None:
        self._kpis, self._next = kpis, 0

    def of(self, index: int) -> Kpis:
        while self._next < index:  # a record that failed before asking
            next(self._kpis)
            self._next += 1
        self._next += 1
        return next(self._kpis)


def group_kpis(
    book: BookTally,
    columns: InteractionColumns,
    users: list[str],
    timeline: WeeklyTimeline,
    count: int,
) -> GroupKpis:
    """The KPIs of the group's first `count` records (its scopes; the persons read
    for roll-ups after them need none)."""
    return GroupKpis(_kpis(book, columns, users, timeline, count))


def _kpis(
    book: BookTally,
    columns: InteractionColumns,
    users: list[str],
    timeline: WeeklyTimeline,
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
        "weekly": _timelines(book, timeline, count),
        "most_contacted": _most_contacted(book, users, count),
        "computation_accuracy": accuracy,
    }
    if named.keys() != set(_FIELDS):  # a KPI added to Kpis, or one named wrongly here
        raise RuntimeError(f"KPI columns {sorted(named)} are not Kpis' fields {_FIELDS}")
    # By position, in the order of Kpis' own fields: a frozen dataclass takes its 24
    # fields by position a third faster than by name.
    return starmap(Kpis, zip(*(named[name] for name in _FIELDS), strict=True))


_FIELDS = tuple(field.name for field in fields(Kpis))


def _timelines(
    book: BookTally, timeline: WeeklyTimeline, count: int
) -> list[tuple[WeekCounts, ...]]:
    """Each record's 13 weeks; equal timelines (most are) made once, found by
    sorting the rows as bytes."""
    rows = np.ascontiguousarray(book.timeline[:count, :TIMELINE_OFF])
    if count == 0:
        return []
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * TIMELINE_OFF))).ravel()
    distinct, row_of = np.unique(keys, return_index=True, return_inverse=True)[1:]
    weeks = [timeline.weeks(rows[row].tolist()) for row in distinct.tolist()]
    return [weeks[k] for k in row_of.ravel().tolist()]


def _means(totals: list[float], counts: list[int]) -> list[float | None]:
    return [total / n if n else None for total, n in zip(totals, counts, strict=True)]


def _most_contacted(
    book: BookTally, users: list[str], count: int
) -> list[tuple[tuple[str, int], ...]]:
    """Each record's top colleagues (tally.py kept each record's top three, in order)."""
    pairs = list(
        zip(
            [users[user] for user in book.contacted_user.tolist()],
            book.contacted_count.tolist(),
            strict=True,
        )
    )
    starts = np.searchsorted(book.contacted_record, np.arange(count + 1)).tolist()
    return [tuple(pairs[starts[k] : starts[k + 1]]) for k in range(count)]
