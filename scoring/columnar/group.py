"""One group of records scored: the group's figures worked out for all its records at
once, then each record's health put together from them.

What every record needs is built for the whole group before the first
record: the KPIs (kpis.py), the states and trends (states.py), the figures
the reasons read (figures.py) and who waits on whom (waiting.py). Per record
there is left the reasons' sentences of a graded record (reasons.py) and, for
a deal or an account, the roll-up of its people (rollups.py,
scoring.rollup.rolled_up_health, which both cores call).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scoring.columnar.columns import InteractionColumns, Ints
from scoring.columnar.figures import GroupFigures, moment_array, readings_arrays, readings_lists
from scoring.columnar.kpis import Weeks, group_kpis
from scoring.columnar.party_tables import SetTables
from scoring.columnar.persons import PersonFigures
from scoring.columnar.reasons import Names, Reasons
from scoring.columnar.rollups import People
from scoring.columnar.states import (
    STATES,
    TRENDS,
    UNGRADED,
    created_times,
    state_codes,
    trend_codes,
    with_dormant,
)
from scoring.columnar.tally import BookTally
from scoring.columnar.visits import GroupCodes
from scoring.columnar.waiting import Awaiting, Skipped, Unanswered
from scoring.explain import ungraded_text
from scoring.factors import FactorValues
from scoring.health import Reading
from scoring.model import (
    HealthState,
    RecordHealth,
    RecordRef,
    RecordScope,
    ScoringSettings,
    Trend,
    new_health,
)
from scoring.prepared import ScoringTime
from scoring.rollup import PersonViews, rolled_up_health

_NOT_APPLICABLE = Trend.NOT_APPLICABLE


class GroupScorer:
    """Each record of one group: `score(index, scope)` for the group's scopes in order."""

    def __init__(
        self,
        scopes: Sequence[RecordScope],
        codes: GroupCodes,
        book: BookTally,
        run: RunInputs,
    ) -> None:
        columns, settings, time = run.columns, run.settings, run.time
        self.settings, self.now_ts, self.columns = settings, time.now_ts, columns
        self.analytics_enabled = settings.analytics_enabled
        self.broken = book.visits.broken
        self.kpis = group_kpis(book, columns, run.tables.users, run.weeks, len(scopes))
        self._next_index = 0  # score() takes every record in order: the KPIs' order
        figures = GroupFigures(book, columns, settings, run.points, time)
        self.figures = figures
        count = len(scopes)
        self.values_now = list(zip(*readings_lists(figures.read_now, count), strict=True))
        self.score_now = figures.read_now.score[:count].tolist()
        # Only a deal's or an account's reading 14 days ago is read (its roll-up's).
        self.rolled_up = codes.rolled_up
        rolled = np.flatnonzero(codes.rolled_up[:count]) if count else np.zeros(0, np.int64)
        read_before = figures.read_before
        self.before = dict(
            zip(
                rolled.tolist(),
                zip(
                    read_before.score[rolled].tolist(),
                    *(values[rolled].tolist() for values in readings_arrays(read_before)),
                    strict=True,
                ),
                strict=True,
            )
        )
        # States: a person (no creation date) by the rules alone; a scope with the
        # dormant rule from its creation date.
        now = state_codes(figures.read_now, settings)
        before = state_codes(figures.read_before, settings)
        created = created_times(scopes, book.records)
        latest, last_before = (
            moment_array(book, at, np.nan) for at in (book.latest, book.before.last)
        )
        scoped_now = with_dormant(now, created, latest, time.now_ts)
        scoped_before = with_dormant(before, created, last_before, time.trend_ts)
        self.state_now = scoped_now[:count].tolist()
        self.state_before = scoped_before[:count].tolist()
        self.trend = trend_codes(
            scoped_now, scoped_before, figures.read_now.score, figures.read_before.score
        ).tolist()
        unanswered = Unanswered(
            book,
            columns,
            run.tables,
            moment_array(book, book.now.last_engaged, -np.inf),
            time.now_ts,
        )
        skipped = Skipped(book, book.visits.people_count)
        self.states, self.unanswered, self.skipped = (now, before), unanswered, skipped
        awaiting = Awaiting(book, columns, run.tables, time.now_ts)
        self.names = Names(run.names)
        self.reasons = Reasons(
            figures,
            (unanswered, skipped, awaiting),
            columns,
            settings.frequency,
            time.now_ts,
            self.names,
            self._graded(scoped_now[:count]),
        )
        self.people = People(
            codes.people,
            figures,
            (now, before),
            (unanswered, skipped),
            book.visits,
            columns,
        )
        self.views: PersonViews = self.people.views(self.names)

    def _graded(self, states: Ints) -> Ints:
        """The scopes `score` explains: graded, scored, and reaching no broken interaction."""
        if not self.settings.analytics_enabled:
            return np.zeros(0, dtype=np.int64)
        graded = np.flatnonzero(states < UNGRADED)
        if self.broken:
            graded = graded[~np.isin(graded, list(self.broken))]
        return graded

    def score(self, index: int, scope: RecordScope) -> RecordHealth:
        # Every record, in order, takes its KPIs first, one that fails too: the next
        # record's are then its own.
        if index != self._next_index:  # the KPIs come one record after another
            raise ValueError(f"record {index} scored where {self._next_index} was next")
        self._next_index += 1
        kpis = next(self.kpis)
        if self.broken and index in self.broken:
            raise self.columns.broken[self.broken[index]][1]
        if not self.analytics_enabled:
            return new_health(scope.record, None, None, _NOT_APPLICABLE, kpis, (), (), None)
        state = self.state_now[index]
        trend = TRENDS[self.trend[index]]
        if state >= UNGRADED:
            reason = self.ungraded_reason(index, STATES[state])
            return new_health(scope.record, None, STATES[state], trend, kpis, (), (reason,), None)
        values = tuple.__new__(FactorValues, self.values_now[index])
        factors, reasons = self.reasons.explain(index, scope, values)
        score = self.score_now[index]
        if self.rolled_up[index]:
            return rolled_up_health(
                scope,
                Reading(score, STATES[state], values),
                self.reading_before(index),
                kpis,
                (factors, reasons),
                self.views,
                self.settings,
                self.now_ts,
            )
        return new_health(scope.record, score, STATES[state], trend, kpis, factors, reasons, None)

    def reading_before(self, index: int) -> Reading:
        state = self.state_before[index]
        if state >= UNGRADED:
            return Reading(None, STATES[state], None)
        score, *values = self.before[index]
        return Reading(score, STATES[state], tuple.__new__(FactorValues, values))

    def person_figures(self, index: Ints) -> PersonFigures:
        """What a roll-up reads of the group's records at `index` read as persons:
        rollups.People's readings and silences, as arrays (persons.py keeps them)."""
        figures, (now, before) = self.figures, self.states
        book = figures.book
        return PersonFigures(
            score=np.where(now[index] < UNGRADED, figures.read_now.score[index], -1),
            before=np.where(before[index] < UNGRADED, figures.read_before.score[index], -1),
            last_engaged_ts=moment_array(book, book.now.last_engaged[index], np.nan),
            last_ts=moment_array(book, book.now.last[index], np.nan),
            unanswered=self.unanswered.total[index],
            unanswered_since_ts=self.unanswered.since[index],
            skipped=self.skipped.skipped_of_last_by_record[index],
            invited=self.skipped.invited_of_last_by_record[index],
        )

    def ungraded_reason(self, index: int, state: HealthState) -> str:
        figures = self.figures
        return ungraded_text(state, figures.upcoming[index], figures.completed[index])


class RunInputs:
    """What a run hands every group (ColumnarRun's fields, read by the group)."""

    def __init__(
        self,
        columns: InteractionColumns,
        tables: SetTables,
        settings: ScoringSettings,
        points: tuple[float, ...],
        time: ScoringTime,
        names: Mapping[RecordRef, str],
    ) -> None:
        self.columns, self.tables, self.settings = columns, tables, settings
        self.points, self.time, self.names = points, time, names
        self.weeks = Weeks(time)
