"""Every record's health state now and at the trend's moment, and its trend, at once.

scoring.health's rules (ungraded_state, grade, trend) over readings.py's
arrays: the dormant rule from each scope's creation date and the record's
latest activity, the grade by the settings' minimums, the trend by the dead
band. Each state is a small code, read per record as an index into STATES.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scoring.columnar.columns import Bools, Floats, Ints
from scoring.columnar.readings import GRADED, Readings
from scoring.health import RECORD_AGE_LIMIT_DAYS, TREND_DEAD_BAND_POINTS
from scoring.model import HealthState, RecordScope, ScoringSettings, Trend
from scoring.prepared import DAY_SECONDS

# By code: the three grades first (a code below UNGRADED is graded), then
# readings.py's ungraded codes (NO_CLOSED, NOT_ENOUGH_INFO) from UNGRADED on.
STATES = (
    HealthState.GOOD,
    HealthState.FAIR,
    HealthState.POOR,
    HealthState.NO_CLOSED_ACTIVITIES,
    HealthState.NOT_ENOUGH_INFO,
    HealthState.RECORD_OLDER_THAN_2_YEARS,
)
UNGRADED = 3  # the first ungraded code: NO_CLOSED is readings' 1, NOT_ENOUGH_INFO 2
DORMANT = 5
TRENDS = (Trend.IMPROVING, Trend.STEADY, Trend.DECLINING, Trend.NOT_ENOUGH_INFO)
_IMPROVING, _STEADY, _DECLINING, _UNKNOWN = range(4)


def state_codes(read: Readings, settings: ScoringSettings) -> Ints:
    """Each record's state by the health rules, but for the dormant one (per scope)."""
    graded = np.where(
        read.score >= settings.good_min, 0, np.where(read.score >= settings.fair_min, 1, 2)
    )
    codes: Ints = np.where(read.ungraded == GRADED, graded, UNGRADED - 1 + read.ungraded)
    return codes


def created_times(scopes: Sequence[RecordScope], count: int) -> Floats:
    """Each scope's creation time (NaN: unknown), `count` long (a group's persons,
    past its scopes, have none)."""
    created = np.full(count, np.nan)
    created[: len(scopes)] = [
        np.nan if scope.created_at is None else scope.created_at.timestamp() for scope in scopes
    ]
    return created


def dormant(created: Floats, latest: Floats, as_of_ts: float) -> Bools:
    """health.ungraded_state's first rule: created before the age limit and no activity
    since (`latest`: NaN when the record has none)."""
    dormant_before = as_of_ts - RECORD_AGE_LIMIT_DAYS * DAY_SECONDS
    found: Bools = (created < dormant_before) & ~(latest >= dormant_before)
    return found


def with_dormant(codes: Ints, created: Floats, latest: Floats, as_of_ts: float) -> Ints:
    marked: Ints = np.where(dormant(created, latest, as_of_ts), DORMANT, codes)
    return marked


def trend_codes(now: Ints, before: Ints, now_score: Ints, before_score: Ints) -> Ints:
    """health.trend of each record, as a code into TRENDS."""
    delta = now_score - before_score
    codes: Ints = np.where(
        (now < UNGRADED) & (before < UNGRADED),
        np.where(
            np.abs(delta) < TREND_DEAD_BAND_POINTS,
            _STEADY,
            np.where(delta > 0, _IMPROVING, _DECLINING),
        ),
        _UNKNOWN,
    )
    return codes
