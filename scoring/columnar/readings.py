"""Every record's factors, score and grading state at once, from tally.py's figures.

The same arithmetic as scoring.factors.read_factors, health_score and
health.ungraded_state, written over arrays in the same order of operations,
so each value is the float the per-record functions compute (+, -, *, /,
`minimum` and `round` are the same IEEE operations, rounding half to even; the
one power, recency's, is Python's own per record). What is left per record is the part that
depends on the scope (a dormant record, which needs its creation date) and
the grade by the settings' minimums (health.grade).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.columnar.columns import Bools, Floats, Ints
from scoring.columnar.signals import Reading as Figures
from scoring.factors import (
    _EXPECTED_VOLUME,
    ACTIVITY_MIX_WEIGHT,
    BALANCE_PART,
    BALANCE_TARGET_RATIO,
    CALL_EVIDENCE_VOLUME,
    CALLS_PART,
    ENGAGEMENT_WEIGHT,
    EXPECTED_GAP_DAYS,
    FREQUENCY_WEIGHT,
    MEETINGS_PART,
    MIX_PRESENCE_VOLUME,
    RECENCY_GRACE_GAPS,
    RECENCY_HALF_LIFE_GAPS,
    RECENCY_WEIGHT,
    REPLIES_PART,
)
from scoring.health import MIN_LIFETIME_COMPLETED, MIN_RECENT_COMPLETED
from scoring.model import Frequency
from scoring.prepared import DAY_SECONDS, DECAY_HALF_LIFE_DAYS
from scoring.threads import FOLLOWED_BY_CONTACT_CREDIT

GRADED, NO_CLOSED, NOT_ENOUGH_INFO = 0, 1, 2


@dataclass
class Readings:
    """One moment's reading of every record (arrays by record)."""

    recency: Floats
    frequency: Floats
    engagement: Floats
    activity_mix: Floats
    score: Ints  # meaningful where ungraded == GRADED
    ungraded: Ints  # GRADED, NO_CLOSED or NOT_ENOUGH_INFO (a dormant record is per scope)
    answered: Floats  # Signals.answered_weight


def read_all(
    figures: Figures,
    visit_ts: Floats,
    *,
    as_of_ts: float,
    now_ts: float,
    frequency: Frequency,
    points: tuple[float, ...],
    has_interactions: Bools,
) -> Readings:
    """scoring.health.read_health for every record, as of `as_of_ts` (now or the
    trend's moment), but for the dormant check."""
    gap = EXPECTED_GAP_DAYS[frequency]
    scale = 2.0 ** ((now_ts - as_of_ts) / (DECAY_HALF_LIFE_DAYS * DAY_SECONDS))
    volume = figures.volume
    emails = volume[:, 0] + volume[:, 1] + figures.loop_volume
    kind_volume = (emails, volume[:, 2] + volume[:, 3], volume[:, 4] + volume[:, 5], volume[:, 6])
    outbound, inbound = volume[:, 0], volume[:, 1]

    # recency (factors.recency over factors.days_since_engaged)
    engaged_at = figures.last_engaged
    ever = engaged_at >= 0
    last_ts = visit_ts[np.maximum(engaged_at, 0)] if len(visit_ts) else np.zeros(len(ever))
    days = np.maximum(0.0, (as_of_ts - last_ts) / DAY_SECONDS)
    overdue = np.maximum(0.0, days - RECENCY_GRACE_GAPS * gap)
    # Python's ** (the C library's pow) per record: numpy's vectorised power may differ
    # from it in the last bit, which a score's rounding could then show.
    halvings = (overdue / (RECENCY_HALF_LIFE_GAPS * gap)).tolist()
    recency = np.where(ever, np.array([0.5**halving for halving in halvings]), 0.0)

    frequency_ = np.minimum(1.0, figures.engaged_volume * scale / _EXPECTED_VOLUME[gap])

    # engagement (factors.engagement), part by part in its order
    asked = figures.asked
    followed = asked - figures.replied - figures.silent
    answered = figures.reply_credit + FOLLOWED_BY_CONTACT_CREDIT * np.maximum(0.0, followed)
    total = np.zeros(len(asked))
    weights = np.zeros(len(asked))
    has = asked > 0
    total = np.where(has, total + REPLIES_PART * answered / np.where(has, asked, 1.0), total)
    weights = np.where(has, weights + REPLIES_PART, weights)
    some_out = outbound > 0
    balance = np.where(
        some_out,
        np.minimum(1.0, inbound / (BALANCE_TARGET_RATIO * np.where(some_out, outbound, 1.0))),
        1.0,
    )
    has = some_out | (inbound > 0)
    total = np.where(has, total + BALANCE_PART * balance, total)
    weights = np.where(has, weights + BALANCE_PART, weights)
    accepted = figures.acceptance_weight
    has = accepted > 0
    total = np.where(
        has, total + MEETINGS_PART * figures.acceptance_sum / np.where(has, accepted, 1.0), total
    )
    weights = np.where(has, weights + MEETINGS_PART, weights)
    calls = np.minimum(1.0, kind_volume[2] * scale / CALL_EVIDENCE_VOLUME)
    has = calls > 0
    total = np.where(has, total + CALLS_PART * calls, total)
    weights = np.where(has, weights + CALLS_PART * calls, weights)
    some = weights != 0
    engagement = np.where(some, total / np.where(some, weights, 1.0), 0.0)

    # activity mix (factors.activity_mix)
    presence = scale / MIX_PRESENCE_VOLUME
    email_points, meeting_points, call_points, task_points = points
    mix = np.minimum(
        1.0,
        email_points * np.minimum(1.0, kind_volume[0] * presence)
        + meeting_points * np.minimum(1.0, kind_volume[1] * presence)
        + call_points * np.minimum(1.0, kind_volume[2] * presence)
        + task_points * np.minimum(1.0, kind_volume[3] * presence),
    )

    score = np.round(
        100
        * (
            RECENCY_WEIGHT * recency
            + FREQUENCY_WEIGHT * frequency_
            + ENGAGEMENT_WEIGHT * engagement
            + ACTIVITY_MIX_WEIGHT * mix
        )
    ).astype(np.int64)

    completed, recent = figures.completed, figures.recent_completed
    ungraded = np.where(
        completed == 0,
        np.where(has_interactions, NO_CLOSED, NOT_ENOUGH_INFO),
        np.where(
            (recent < MIN_RECENT_COMPLETED) & (completed < MIN_LIFETIME_COMPLETED),
            NOT_ENOUGH_INFO,
            GRADED,
        ),
    ).astype(np.int64)
    return Readings(recency, frequency_, engagement, mix, score, ungraded, answered)
