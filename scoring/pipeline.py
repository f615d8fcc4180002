"""Scoring records: the public entry points.

`score_records` scores a whole book in one run: it prepares every interaction
once, indexes them by person and regarding record, and then scores each record
from its gathered interactions. A record that fails is reported as "something
went wrong" with the error's type; the run goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from scoring.explain import Context, explain, ungraded_reason
from scoring.factors import channel_points
from scoring.health import check_grading, read_health, trend
from scoring.kpis import WeeklyTimeline, build_kpis
from scoring.model import (
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
from scoring.scope import InteractionIndex
from scoring.tally import tally_record

MAX_ERROR_TEXT = 200
_NOT_APPLICABLE = Trend.NOT_APPLICABLE  # a module constant: Enum lookups are slow in 3.11


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
    """Health of one record; `interactions` already belong to it (scope applied)."""
    scorer = RecordScorer(settings, now, names)
    return scorer.score(scope, prepare_sorted(interactions, scorer.time, scorer.weights))


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


class RecordScorer:
    """What every record of one run shares: settings, moments, names."""

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

    def score_all(
        self, scopes: Iterable[RecordScope], index: InteractionIndex
    ) -> Iterator[RecordHealth]:
        for scope in scopes:
            try:
                health = self.score(scope, index.gather(scope))
            except Exception as error:  # one record's failure must not stop the book
                health = failed(scope.record, error)
            yield health

    def score(self, scope: RecordScope, rows: list[PreparedInteraction]) -> RecordHealth:
        record = tally_record(scope, rows, self.time)
        kpis = build_kpis(record, self.timeline)
        settings = self.settings
        if not settings.analytics_enabled:
            # Data is still collected and KPIs kept; only the health is hidden.
            return RecordHealth(scope.record, None, None, _NOT_APPLICABLE, kpis)
        created_at_ts = scope.created_at.timestamp() if scope.created_at is not None else None
        now = read_health(
            record.now,
            settings,
            created_at_ts=created_at_ts,
            latest_activity_ts=rows[-1].ts if rows else None,
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
        context = Context(scope, self.names, record, self.time, settings.frequency)
        if now.values is None:
            reason = ungraded_reason(now.state, context)
            return RecordHealth(
                scope.record, None, now.state, trend(now, before), kpis, (), (reason,)
            )
        factors, reasons = explain(now.values, context)
        return RecordHealth(
            scope.record, now.score, now.state, trend(now, before), kpis, factors, reasons
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
