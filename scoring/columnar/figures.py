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
        self.book = book
        self.last_engaged = moments(book, now.last_engaged)
        self.last = moments(book, now.last)
        self.upcoming = moments(book, book.upcoming)
        self.last_engaged_visit = now.last_engaged.tolist()
        self.completed = now.completed.tolist()

    def last_engaged_parties(self, index: int) -> tuple[Party, ...]:
        """The external parties of the interaction the record's people last took part in."""
        code = int(self.columns.party_set[self.position[self.last_engaged_visit[index]]])
        return self.columns.sets.external[code] if code >= 0 else ()


def readings_arrays(read: Readings) -> tuple[Floats, Floats, Floats, Floats]:
    """(recency, frequency, engagement, activity mix) of every record."""
    return read.recency, read.frequency, read.engagement, read.activity_mix


def readings_lists(read: Readings, count: int) -> tuple[list[float], ...]:
    """(recency, frequency, engagement, activity mix) of the first `count` records, listed."""
    return tuple(values[:count].tolist() for values in readings_arrays(read))
