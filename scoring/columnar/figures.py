"""One group's figures (tally.py's arrays by record) as what the per-record code reads.

The per-record code (kpis.py, reasons.py, rollups.py) reads each record's figures
by index; a Python list read by index costs a fraction of a numpy scalar, so
every array it reads is listed once per group here, and each moment it quotes
(a visit's time) is looked up for all records at once.
"""

from __future__ import annotations

import numpy as np

from scoring.columnar.columns import Floats, InteractionColumns, Ints
from scoring.columnar.readings import Readings, read_all
from scoring.columnar.tally import BookTally
from scoring.explain import Points
from scoring.factors import FACTOR_WEIGHTS
from scoring.model import Party, ScoringSettings
from scoring.prepared import ScoringTime


def moments(book: BookTally, visits: Ints) -> list[float | None]:
    """The time of one visit per record (`visits`: a visit index by record, -1: none)."""
    if len(book.ts) == 0:
        return [None] * len(visits)
    times: list[float | None] = book.ts[np.maximum(visits, 0)].tolist()
    for none in np.flatnonzero(visits < 0).tolist():
        times[none] = None
    return times


def moment_array(book: BookTally, visits: Ints, missing: float) -> Floats:
    """The time of one visit per record as an array, `missing` where there is none."""
    if len(book.ts) == 0:
        return np.full(len(visits), missing)
    found: Floats = np.where(visits >= 0, book.ts[np.maximum(visits, 0)], missing)
    return found


class GroupFigures:
    """tally.py's figures of one group of records, listed (see the module docstring)."""

    def __init__(
        self,
        book: BookTally,
        columns: InteractionColumns,
        settings: ScoringSettings,
        points: tuple[float, ...],
        time: ScoringTime,
    ) -> None:
        records = book.records
        now, before = book.now, book.before
        self.columns, self.position = columns, book.visits.position
        self.read_now = read_all(
            now,
            book.ts,
            as_of_ts=time.now_ts,
            now_ts=time.now_ts,
            frequency=settings.frequency,
            points=points,
            has_interactions=book.latest >= 0,
        )
        self.read_before = read_all(
            before,
            book.ts,
            as_of_ts=time.trend_ts,
            now_ts=time.now_ts,
            frequency=settings.frequency,
            points=points,
            has_interactions=np.zeros(records, dtype=np.bool_),
        )
        self.last_engaged = moments(book, now.last_engaged)
        self.last = moments(book, now.last)
        self.upcoming = moments(book, book.upcoming)
        self.last_meeting = moments(book, book.last_meeting)
        self.has_call = (book.last_call >= 0).tolist()
        self.last_engaged_visit = now.last_engaged.tolist()
        self.completed = now.completed.tolist()
        self.recent_engaged = book.recent_engaged.tolist()
        self.replies_by_them = book.replies_by_them.tolist()
        self.hours_by_them = book.hours_by_them.tolist()
        volume = now.volume
        self.kind_volume = list(
            zip(
                (volume[:, 0] + volume[:, 1] + now.loop_volume).tolist(),
                (volume[:, 2] + volume[:, 3]).tolist(),
                (volume[:, 4] + volume[:, 5]).tolist(),
                volume[:, 6].tolist(),
                strict=True,
            )
        )
        self.engagement = _engagement_inputs(book, self.read_now.answered)
        self.points = factor_points(self.read_now)

    def last_engaged_parties(self, index: int) -> tuple[Party, ...]:
        """The external parties of the interaction the record's people last took part in."""
        code = int(self.columns.party_set[self.position[self.last_engaged_visit[index]]])
        return self.columns.sets.external[code] if code >= 0 else ()


def _engagement_inputs(book: BookTally, answered: Floats) -> list[tuple[float, ...]]:
    """Per record, what explain.engagement_detail reads of its signals now:
    (asked, answered, acceptance sum, acceptance weight, outbound, inbound)."""
    now = book.now
    return list(
        zip(
            now.asked.tolist(),
            answered.tolist(),
            now.acceptance_sum.tolist(),
            now.acceptance_weight.tolist(),
            now.volume[:, 0].tolist(),
            now.volume[:, 1].tolist(),
            strict=True,
        )
    )


def factor_points(read: Readings) -> list[Points]:
    """explain.factor_points of every record's factors now: (lost, earned) per factor,
    the same float operations in the same order, over arrays."""
    parts = []
    for weight, value in zip(
        FACTOR_WEIGHTS,
        (read.recency, read.frequency, read.engagement, read.activity_mix),
        strict=True,
    ):
        earned = 100 * weight * value
        lost = 100 * weight - earned
        parts.append(zip(lost.tolist(), earned.tolist(), strict=True))
    return [tuple.__new__(Points, factors) for factors in zip(*parts, strict=True)]


def readings_lists(read: Readings) -> tuple[list[float], ...]:
    """(recency, frequency, engagement, activity mix) of every record, listed."""
    return (
        read.recency.tolist(),
        read.frequency.tolist(),
        read.engagement.tolist(),
        read.activity_mix.tolist(),
    )
