"""Scoring records: the public entry points.

`score_records` scores a whole book in one run: it prepares every interaction
once, indexes them by person and regarding record, and then scores each record
from its gathered interactions. A record that fails is reported as "something
went wrong" with the error's type; the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from scoring.explain import Context, explain, ungraded_reason
from scoring.factors import channel_points
from scoring.health import Reading, check_grading, read_health, trend
from scoring.kpis import WeeklyTimeline, build_kpis
from scoring.model import (
    Factor,
    HealthState,
    Interaction,
    Kpis,
    RecordHealth,
    RecordRef,
    RecordScope,
    ScoringSettings,
    Trend,
)
from scoring.prepared import (
    PreparedInteraction,
    ScoringTime,
    influence_weights,
    prepare_all,
    prepare_sorted,
)
from scoring.rollup import (
    PersonReading,
    PersonViews,
    Silence,
    is_rolled_up,
    person_scope,
    rolled_up_health,
    silence_of,
)
from scoring.scope import InteractionIndex
from scoring.tally import RecordTally, tally_record

MAX_ERROR_TEXT = 200
_NOT_APPLICABLE = Trend.NOT_APPLICABLE  # a module constant: Enum lookups are slow in 3.11
_DORMANT = HealthState.RECORD_OLDER_THAN_2_YEARS


def score_records(
    scopes: Iterable[RecordScope],
    interactions: Sequence[Interaction],
    settings: ScoringSettings,
    now: datetime,
    names: Mapping[RecordRef, str],
) -> Iterator[RecordHealth]:
    """Health of every scoped record as of `now`, in the order of `scopes`.

    Bad settings or a naive `now` raise here, before anything is scored.
    """
    return ScoringRun(interactions, settings, now, names).score(scopes)


def score_record(
    scope: RecordScope,
    interactions: Sequence[Interaction],
    settings: ScoringSettings,
    now: datetime,
    names: Mapping[RecordRef, str],
) -> RecordHealth:
    """Health of one record; `interactions` already belong to it (scope applied).

    A deal's or account's people are read from these interactions too (those
    that include them), not from everything their contact records would see.
    """
    scorer = RecordScorer(settings, now, names)
    rows = prepare_sorted(interactions, scorer.time, scorer.weights)

    def person_rows(person: RecordRef) -> list[PreparedInteraction]:
        return [row for row in rows if any(p.ref == person for p in row.interaction.external)]

    return scorer.score(scope, rows, person_rows)


class ScoringRun:
    """One run: every interaction prepared and indexed once, then records scored.

    `score_records` is `ScoringRun(...).score(scopes)`. Holding the run lets a
    caller score its records in parts against the same preparation, e.g. one
    part per worker process forked after the run was built.
    """

    def __init__(
        self,
        interactions: Iterable[Interaction],
        settings: ScoringSettings,
        now: datetime,
        names: Mapping[RecordRef, str],
    ) -> None:
        self._scorer = RecordScorer(settings, now, names)
        rows, broken = prepare_all(interactions, self._scorer.time, self._scorer.weights)
        self._index = InteractionIndex(rows, broken)

    def score(self, scopes: Iterable[RecordScope]) -> Iterator[RecordHealth]:
        """Health of each scope's record, in the order of `scopes`."""
        return self._scorer.score_all(scopes, self._index)


PersonRows = Callable[[RecordRef], list[PreparedInteraction]]


class RecordScorer:
    """What every record of one run shares: settings, moments, names, and the
    people's readings that deals and accounts roll up."""

    def __init__(
        self, settings: ScoringSettings, now: datetime, names: Mapping[RecordRef, str]
    ) -> None:
        check_grading(settings)
        self.settings = settings
        self.weights = influence_weights(settings)
        self.channel_points = channel_points(self.weights)
        self.time = ScoringTime.at(now)
        self.names = names
        self.timeline = WeeklyTimeline(self.time)
        # A person's reading, kept from their contact record's scoring (or read
        # when a deal or account first needs it): the same value either way,
        # so the order records are scored in never changes a result.
        self._people: dict[RecordRef, PersonReading] = {}

    def score_all(
        self, scopes: Iterable[RecordScope], index: InteractionIndex
    ) -> Iterator[RecordHealth]:
        def person_rows(person: RecordRef) -> list[PreparedInteraction]:
            return index.gather(person_scope(person))

        for scope in scopes:
            try:
                health = self.score(scope, index.gather(scope), person_rows)
            except Exception as error:  # one record's failure must not stop the book
                health = failed(scope.record, error)
            yield health

    def score(
        self, scope: RecordScope, rows: list[PreparedInteraction], person_rows: PersonRows
    ) -> RecordHealth:
        record = tally_record(scope, rows, self.time)
        kpis = build_kpis(record, self.timeline)
        settings = self.settings
        if not settings.analytics_enabled:
            # Data is still collected and KPIs kept; only the health is hidden.
            return RecordHealth(scope.record, None, None, _NOT_APPLICABLE, kpis)
        created_at_ts = scope.created_at.timestamp() if scope.created_at is not None else None
        now, before = self._readings(record, created_at_ts, rows[-1].ts if rows else None)
        if scope.team is None and len(scope.people) == 1 and scope.record in scope.people:
            self._remember(scope.record, record, now, before, created_at_ts)
        context = Context(scope, self.names, record, self.time, settings.frequency)
        if now.values is None:
            reason = ungraded_reason(now.state, context)
            return RecordHealth(
                scope.record, None, now.state, trend(now, before), kpis, (), (reason,)
            )
        factors, reasons = explain(now.values, context)
        if now.score is not None and is_rolled_up(scope):
            return self._rolled_up(scope, now, before, kpis, factors, reasons, person_rows)
        return RecordHealth(
            scope.record, now.score, now.state, trend(now, before), kpis, factors, reasons
        )

    def _readings(
        self, record: RecordTally, created_at_ts: float | None, latest_ts: float | None
    ) -> tuple[Reading, Reading]:
        """The record's health now and TREND_WINDOW_DAYS ago."""
        settings = self.settings
        now = read_health(
            record.now,
            settings,
            created_at_ts=created_at_ts,
            latest_activity_ts=latest_ts,
            has_interactions=record.has_rows,
            points=self.channel_points,
        )
        before = read_health(
            record.before,
            settings,
            created_at_ts=created_at_ts,
            latest_activity_ts=record.before.last_completed_ts,
            has_interactions=False,
            points=self.channel_points,
        )
        return now, before

    def _remember(
        self,
        person: RecordRef,
        record: RecordTally,
        now: Reading,
        before: Reading,
        created_at_ts: float | None,
    ) -> None:
        if created_at_ts is not None and _DORMANT in (now.state, before.state):
            # A person's reading ignores the record-age rule: read it again.
            latest = record.rows[-1].ts if record.rows else None
            now, before = self._readings(record, None, latest)
        self._people[person] = _person_reading(record, now, before)

    def _reading(self, person: RecordRef, person_rows: PersonRows) -> PersonReading:
        reading = self._people.get(person)
        if reading is None:
            rows = person_rows(person)
            record = tally_record(person_scope(person), rows, self.time)
            now, before = self._readings(record, None, rows[-1].ts if rows else None)
            reading = self._people[person] = _person_reading(record, now, before)
        return reading

    def _rolled_up(
        self,
        scope: RecordScope,
        pooled: Reading,
        pooled_before: Reading,
        kpis: Kpis,
        factors: tuple[Factor, ...],
        reasons: tuple[str, ...],
        person_rows: PersonRows,
    ) -> RecordHealth:
        """A deal's or account's health from its people's (scoring.rollup)."""

        def reading(person: RecordRef) -> PersonReading:
            return self._reading(person, person_rows)

        def silence(person: RecordRef) -> Silence:
            return silence_of(
                tally_record(person_scope(person), person_rows(person), self.time), self.time
            )

        return rolled_up_health(
            scope,
            pooled,
            pooled_before,
            kpis,
            (factors, reasons),
            PersonViews(reading, silence, self._name),
            self.settings,
            self.time.now_ts,
        )

    def _name(self, person: RecordRef) -> str:
        return self.names.get(person) or person.type + " " + person.id


def _person_reading(record: RecordTally, now: Reading, before: Reading) -> PersonReading:
    last_engaged = record.now.last_engaged
    return PersonReading(
        now.score,
        before.score,
        last_engaged.ts if last_engaged is not None else None,
        record.now.last_completed_ts,
    )


def failed(record: RecordRef, error: Exception) -> RecordHealth:
    text = f"scoring failed: {type(error).__name__}: {error}"
    if len(text) > MAX_ERROR_TEXT:
        text = text[: MAX_ERROR_TEXT - 3] + "..."
    return RecordHealth(
        record,
        None,
        HealthState.SOMETHING_WENT_WRONG,
        Trend.SOMETHING_WENT_WRONG,
        Kpis(),
        (),
        (text,),
    )
