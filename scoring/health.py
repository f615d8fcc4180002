"""Health score, state and trend of one record as of one moment.

A record is graded (Good / Fair / Poor by the admin's grade minimums) only when
there is something to grade; otherwise it gets the state that says why not.
"""

from __future__ import annotations

from typing import NamedTuple

from scoring.factors import FactorValues, health_score, read_factors
from scoring.model import HealthState, ScoringSettings, Trend
from scoring.prepared import DAY_SECONDS
from scoring.tally import Signals

# A record created more than two years ago with no interaction in two years is
# dormant: grading it Poor every night would only add noise (the Dynamics
# "record older than 2 years" state).
RECORD_AGE_LIMIT_DAYS = 730

# Enough information: at least 2 completed interactions in the last 90 days
# (see tally.RECENT_WINDOW_DAYS), or at least 5 ever. One email is not a
# relationship; but a long history that went quiet is information, and grades
# Poor rather than "not enough info".
MIN_RECENT_COMPLETED = 2
MIN_LIFETIME_COMPLETED = 5

# Trend: score now against score TREND_WINDOW_DAYS ago; a change smaller than
# this many points is noise (one email more or less) and reads Steady.
TREND_DEAD_BAND_POINTS = 5


# Enum members as module constants: in Python 3.11 a member lookup on the
# class costs ~0.25 µs, and these run for every record.
_GOOD, _FAIR, _POOR = HealthState.GOOD, HealthState.FAIR, HealthState.POOR
_NOT_ENOUGH_INFO, _NO_CLOSED = HealthState.NOT_ENOUGH_INFO, HealthState.NO_CLOSED_ACTIVITIES
_DORMANT = HealthState.RECORD_OLDER_THAN_2_YEARS
_IMPROVING, _STEADY, _DECLINING = Trend.IMPROVING, Trend.STEADY, Trend.DECLINING
_TREND_UNKNOWN = Trend.NOT_ENOUGH_INFO


class Reading(NamedTuple):
    score: int | None
    state: HealthState
    values: FactorValues | None


def read_health(
    signals: Signals,
    settings: ScoringSettings,
    *,
    created_at_ts: float | None,
    latest_activity_ts: float | None,
    has_interactions: bool,
    points: tuple[float, ...],
) -> Reading:
    state = ungraded_state(
        signals,
        created_at_ts=created_at_ts,
        latest_activity_ts=latest_activity_ts,
        has_interactions=has_interactions,
    )
    if state is not None:
        return Reading(None, state, None)
    values = read_factors(signals, settings.frequency, points)
    score = health_score(values)
    return Reading(score, grade(score, settings), values)


def ungraded_state(
    signals: Signals,
    *,
    created_at_ts: float | None,
    latest_activity_ts: float | None,
    has_interactions: bool,
) -> HealthState | None:
    dormant_before = signals.as_of_ts - RECORD_AGE_LIMIT_DAYS * DAY_SECONDS
    if (
        created_at_ts is not None
        and created_at_ts < dormant_before
        and (latest_activity_ts is None or latest_activity_ts < dormant_before)
    ):
        return _DORMANT
    if signals.completed == 0:
        return _NO_CLOSED if has_interactions else _NOT_ENOUGH_INFO
    if (
        signals.recent_completed < MIN_RECENT_COMPLETED
        and signals.completed < MIN_LIFETIME_COMPLETED
    ):
        return _NOT_ENOUGH_INFO
    return None


def grade(score: int, settings: ScoringSettings) -> HealthState:
    if score >= settings.good_min:
        return _GOOD
    if score >= settings.fair_min:
        return _FAIR
    return _POOR


def trend(now: Reading, before: Reading) -> Trend:
    if now.score is None or before.score is None:
        return _TREND_UNKNOWN
    delta = now.score - before.score
    if abs(delta) < TREND_DEAD_BAND_POINTS:
        return _STEADY
    return _IMPROVING if delta > 0 else _DECLINING


def check_grading(settings: ScoringSettings) -> None:
    """Grades cannot overlap or leave gaps; bad values name the field."""
    if not 1 <= settings.good_min <= 100:
        raise ValueError(f"good_min must be between 1 and 100, got {settings.good_min!r}")
    if not 0 <= settings.fair_min < settings.good_min:
        raise ValueError(
            f"fair_min must be between 0 and good_min - 1 ({settings.good_min - 1}), "
            f"got {settings.fair_min!r}"
        )
