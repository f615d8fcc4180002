"""The four factors of the health score, each a reading between 0 and 1.

- recency: how long since the customer last took part (replied, called, came
  to a meeting), measured in expected gaps between contacts;
- frequency: the time-decayed, influence-weighted volume of interactions the
  customer took part in, against the volume the expected communication
  frequency implies;
- engagement: whether the customer engages back (answers our emails and how
  fast, writes to us as well as we write to them, accepts our meetings);
- activity mix: which channels the relationship uses; meetings and calls say
  more than email alone.

docs/scoring.md explains each constant and why it has its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from scoring.model import Frequency, Kind
from scoring.prepared import DAY_SECONDS, DECAY_HALF_LIFE_DAYS
from scoring.tally import Signals

# The gap between two contacts the organisation expects, per setting.
EXPECTED_GAP_DAYS: dict[Frequency, float] = {
    Frequency.DAILY: 1.0,
    Frequency.EVERY_FEW_DAYS: 3.0,
    Frequency.WEEKLY: 7.0,
    Frequency.EVERY_COUPLE_OF_WEEKS: 14.0,
    Frequency.MONTHLY: 30.0,
}

# Share of the score per factor (sums to 1). Engagement and recency carry
# most: a customer who stopped answering is the risk sellers need to see;
# volume alone can be our own one-way outreach.
RECENCY_WEIGHT = 0.30
FREQUENCY_WEIGHT = 0.20
ENGAGEMENT_WEIGHT = 0.35
ACTIVITY_MIX_WEIGHT = 0.15

# Recency is full within one expected gap, then halves every two gaps: a
# weekly relationship silent for 3 weeks reads 0.5, a monthly one is still 1.
RECENCY_GRACE_GAPS = 1.0
RECENCY_HALF_LIFE_GAPS = 2.0

# Parts of engagement (renormalised over the parts that have data).
REPLIES_PART = 0.45
BALANCE_PART = 0.25
MEETINGS_PART = 0.30
# A completed call is two-way by nature: the calls part reads 1, and weighs
# CALLS_PART in proportion to the calls' decayed volume up to one full-weight
# call today (CALL_EVIDENCE_VOLUME), so that an old call cannot outweigh
# recent emails nobody answered.
CALLS_PART = 0.30
CALL_EVIDENCE_VOLUME = 1.0
# Sellers write more than customers: the customer writing half as much as we
# do is already a fully two-way relationship.
BALANCE_TARGET_RATIO = 0.5

# Activity mix: points per channel present (capped at 1). Email alone gives
# 0.35, email and meetings 0.8, email, meetings and calls 1. Each channel's
# points are multiplied by its kind's influence weight (0.5-1.5): this is
# where the admin's influence settings reorder relationships held in
# different channels, even when both are fully two-way (frequency saturates).
CHANNEL_POINTS: tuple[float, ...] = (0.35, 0.45, 0.35, 0.10)  # email, meeting, call, task
CHANNEL_KINDS = (Kind.EMAIL, Kind.MEETING, Kind.CALL, Kind.TASK)
# A channel is fully present with one full-weight interaction today (or two
# three weeks ago); less counts in proportion.
MIX_PRESENCE_VOLUME = 1.0


class FactorValues(NamedTuple):
    recency: float
    frequency: float
    engagement: float
    activity_mix: float


FACTOR_WEIGHTS = FactorValues(
    RECENCY_WEIGHT, FREQUENCY_WEIGHT, ENGAGEMENT_WEIGHT, ACTIVITY_MIX_WEIGHT
)


def channel_points(weights: Mapping[Kind, float]) -> tuple[float, ...]:
    """CHANNEL_POINTS scaled by each kind's influence weight (see above)."""
    return tuple(
        points * weights[kind] for points, kind in zip(CHANNEL_POINTS, CHANNEL_KINDS, strict=True)
    )


def read_factors(signals: Signals, frequency: Frequency, points: tuple[float, ...]) -> FactorValues:
    gap = EXPECTED_GAP_DAYS[frequency]
    # tuple.__new__ skips the NamedTuple's Python-level __new__ (twice per record).
    return tuple.__new__(
        FactorValues,
        (
            recency(days_since_engaged(signals), gap),
            min(1.0, signals.engaged_volume * signals.volume_scale / _EXPECTED_VOLUME[gap]),
            engagement(signals),
            activity_mix(signals.kind_volume, signals.volume_scale, points),
        ),
    )


def health_score(values: FactorValues) -> int:
    recency_, frequency_, engagement_, activity_mix_ = values
    return round(
        100
        * (
            RECENCY_WEIGHT * recency_
            + FREQUENCY_WEIGHT * frequency_
            + ENGAGEMENT_WEIGHT * engagement_
            + ACTIVITY_MIX_WEIGHT * activity_mix_
        )
    )


def days_since_engaged(signals: Signals) -> float | None:
    if signals.last_engaged is None:
        return None
    return max(0.0, (signals.as_of_ts - signals.last_engaged.ts) / DAY_SECONDS)


def recency(days_since: float | None, gap_days: float) -> float:
    if days_since is None:
        return 0.0
    overdue = max(0.0, days_since - RECENCY_GRACE_GAPS * gap_days)
    return float(0.5 ** (overdue / (RECENCY_HALF_LIFE_GAPS * gap_days)))


def expected_volume(gap_days: float) -> float:
    """The decayed volume of one neutral interaction every `gap_days`, forever."""
    kept_per_gap: float = 0.5 ** (gap_days / DECAY_HALF_LIFE_DAYS)
    return 1.0 / (1.0 - kept_per_gap)


_EXPECTED_VOLUME = {gap: expected_volume(gap) for gap in EXPECTED_GAP_DAYS.values()}


def engagement(signals: Signals) -> float:
    """Average of the parts that have data, by their weights."""
    total = weights = 0.0
    if signals.asked_weight > 0:
        total += REPLIES_PART * signals.answered_weight / signals.asked_weight
        weights += REPLIES_PART
    balance = inbound_balance(signals.inbound_volume, signals.outbound_volume)
    if balance is not None:
        total += BALANCE_PART * balance
        weights += BALANCE_PART
    if signals.acceptance_weight > 0:
        total += MEETINGS_PART * signals.acceptance_sum / signals.acceptance_weight
        weights += MEETINGS_PART
    calls = call_evidence(signals)
    if calls > 0:
        total += CALLS_PART * calls  # a completed call reads 1
        weights += CALLS_PART * calls
    return total / weights if weights else 0.0


def call_evidence(signals: Signals) -> float:
    """0..1: how much the calls part weighs, from the calls' decayed volume."""
    return min(1.0, signals.kind_volume[2] * signals.volume_scale / CALL_EVIDENCE_VOLUME)


def inbound_balance(inbound: float, outbound: float) -> float | None:
    if outbound <= 0:
        return 1.0 if inbound > 0 else None
    return min(1.0, inbound / (BALANCE_TARGET_RATIO * outbound))


def activity_mix(
    kind_volume: tuple[float, ...], volume_scale: float, points: tuple[float, ...]
) -> float:
    emails, meetings, calls, tasks = kind_volume
    scale = volume_scale / MIX_PRESENCE_VOLUME
    email_points, meeting_points, call_points, task_points = points
    return min(
        1.0,
        email_points * min(1.0, emails * scale)
        + meeting_points * min(1.0, meetings * scale)
        + call_points * min(1.0, calls * scale)
        + task_points * min(1.0, tasks * scale),
    )
