"""What scoring knows about one interaction before it looks at any record.

An interaction is visited by every record it belongs to: its contact, the
contact's account, an open opportunity. Everything about it that does not
depend on the record (its time as a number, its influence weight and time
decay, which KPI counters it feeds, the time it cost) is worked out here once
per scoring run, so the per-record pass in `tally.py` only adds numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import compress, count, islice
from operator import eq, itemgetter
from typing import NamedTuple

from scoring.model import (
    Direction,
    Interaction,
    Kind,
    Party,
    RecordRef,
    Response,
    Role,
    ScoringSettings,
)

# Volumes and two-way signals fade with age: an interaction three weeks old
# counts half as much as one today. Three weeks is roughly one sales cycle
# step (a proposal round, a follow-up meeting); shorter made one quiet week
# look like a broken relationship, longer let last quarter hide this month.
DECAY_HALF_LIFE_DAYS = 21.0

# Time spent per email (REFERENCE.md): the writer spends 5 minutes, the
# reader 2.5.
EMAIL_WRITE_MINUTES = 5.0
EMAIL_READ_MINUTES = 2.5

TIMELINE_WEEKS = 13
TREND_WINDOW_DAYS = 14

# Influence 6 is neutral; each step towards 3 adds, towards 9 removes, 1/6.
NEUTRAL_INFLUENCE = 6
MIN_INFLUENCE = 3
MAX_INFLUENCE = 9

DAY_SECONDS = 86_400.0
WEEK_SECONDS = 7 * DAY_SECONDS
_DECAY_RATE = math.log(2) / (DECAY_HALF_LIFE_DAYS * DAY_SECONDS)

# Slots of the per-record counters (tally.Tally.counts, .volume, .last_at):
# one per kind and direction, so one slot feeds every figure.
EMAILS_SENT, EMAILS_RECEIVED, MEETINGS_SENT, MEETINGS_RECEIVED = 0, 1, 2, 3
CALLS_MADE, CALLS_RECEIVED, TASKS = 4, 5, 6
SLOTS = 7
SLOTS_OF_KIND: dict[Kind, tuple[int, ...]] = {
    Kind.EMAIL: (EMAILS_SENT, EMAILS_RECEIVED),
    Kind.MEETING: (MEETINGS_SENT, MEETINGS_RECEIVED),
    Kind.CALL: (CALLS_MADE, CALLS_RECEIVED),
    Kind.TASK: (TASKS,),
}
TIMELINE_COLUMNS = 4  # emails sent, emails received, meetings, phone calls
TIMELINE_OFF = TIMELINE_WEEKS * TIMELINE_COLUMNS  # a bin for what the timeline ignores

# Enum members as module constants: a class attribute lookup on an Enum is
# several times slower, and prepare() runs once per interaction.
_DECLINED = Response.DECLINED
_FROM, _ORGANIZER = Role.FROM, Role.ORGANIZER


class Profile(NamedTuple):
    """What a kind and direction of interaction means, whatever its record."""

    slot: int
    inbound: bool
    timeline_column: int | None
    # True/False when this kind of interaction shows the customer taking
    # part whoever the record is; None when it depends on who the record's
    # people are: an email of theirs is the engagement of its sender only
    # (not of the people it copies), a meeting of theirs or ours that of the
    # people who organised or attended it.
    engaged: bool | None
    team_email_minutes: float
    customer_email_minutes: float


_PROFILES: dict[tuple[Kind, Direction], Profile] = {
    (Kind.EMAIL, Direction.OUTBOUND): Profile(
        EMAILS_SENT, False, 0, False, EMAIL_WRITE_MINUTES, EMAIL_READ_MINUTES
    ),
    (Kind.EMAIL, Direction.INBOUND): Profile(
        EMAILS_RECEIVED, True, 1, None, EMAIL_READ_MINUTES, EMAIL_WRITE_MINUTES
    ),
    (Kind.MEETING, Direction.OUTBOUND): Profile(MEETINGS_SENT, False, 2, None, 0.0, 0.0),
    (Kind.MEETING, Direction.INBOUND): Profile(MEETINGS_RECEIVED, True, 2, None, 0.0, 0.0),
    # A completed call, whoever dialled, is a conversation with the customer.
    (Kind.CALL, Direction.OUTBOUND): Profile(CALLS_MADE, False, 3, True, 0.0, 0.0),
    (Kind.CALL, Direction.INBOUND): Profile(CALLS_RECEIVED, True, 3, True, 0.0, 0.0),
    (Kind.TASK, Direction.OUTBOUND): Profile(TASKS, False, None, False, 0.0, 0.0),
    (Kind.TASK, Direction.INBOUND): Profile(TASKS, True, None, False, 0.0, 0.0),
}


@dataclass(frozen=True, slots=True)
class ScoringTime:
    """The moments one scoring run measures against, as epoch seconds."""

    now: datetime
    now_ts: float
    trend_ts: float  # the "before" reading of the trend
    timeline_start_ts: float  # Monday 00:00 UTC, 12 weeks before the week of now
    week_starts: tuple[datetime, ...]

    @classmethod
    def at(cls, now: datetime) -> ScoringTime:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        today = now.astimezone(UTC).date()
        this_monday = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(
            days=today.weekday()
        )
        first_monday = this_monday - timedelta(weeks=TIMELINE_WEEKS - 1)
        return cls(
            now=now,
            now_ts=now.timestamp(),
            trend_ts=(now - timedelta(days=TREND_WINDOW_DAYS)).timestamp(),
            timeline_start_ts=first_monday.timestamp(),
            week_starts=tuple(first_monday + timedelta(weeks=w) for w in range(TIMELINE_WEEKS)),
        )


class PreparedInteraction(NamedTuple):
    """An interaction with its record-independent figures (a tuple: unpacked in C)."""

    interaction: Interaction
    ts: float
    decayed_weight: float  # influence weight x time decay as of now
    slot: int
    week_slot: int
    inbound: bool
    team_minutes: float
    customer_minutes: float
    engaged: bool | None  # see Profile.engaged
    conversation_id: str | None  # emails only
    internal_ids: tuple[str, ...]
    opens: int
    clicks: int
    planned: bool  # planned at or before now: overdue, so neither history nor next
    # Who on their side wrote the email or organised the meeting (inbound
    # only; None when that person matched no CRM record): only they engaged.
    author: RecordRef | None


_ts = itemgetter(1)  # a prepared row's epoch seconds


def influence_weight(influence: int) -> float:
    """6 is neutral (1.0); 3 is +50 %, 9 is -50 %."""
    return 1.0 + (NEUTRAL_INFLUENCE - influence) / NEUTRAL_INFLUENCE


def influence_weights(settings: ScoringSettings) -> dict[Kind, float]:
    weights: dict[Kind, float] = {}
    for kind in Kind:
        influence = settings.influence.get(kind, NEUTRAL_INFLUENCE)
        if not MIN_INFLUENCE <= influence <= MAX_INFLUENCE:
            raise ValueError(
                f"influence[{kind.value}] must be between {MIN_INFLUENCE} and "
                f"{MAX_INFLUENCE}, got {influence!r}"
            )
        weights[kind] = influence_weight(influence)
    return weights


Prepare = Callable[[Interaction], PreparedInteraction]


def preparer(time: ScoringTime, weights: Mapping[Kind, float]) -> Prepare:
    """`prepare(interaction)` for one run, with the run's moments and weights bound.

    A closure rather than a function of (interaction, time, weights): it runs
    once per interaction, and reading closure cells is cheaper than looking up
    attributes and settings a million times.
    """
    now_ts, timeline_start_ts = time.now_ts, time.timeline_start_ts
    profiles = {key: (*profile, weights[key[0]]) for key, profile in _PROFILES.items()}
    # Colleague sets repeat across interactions: share one tuple per set.
    colleague_sets: dict[tuple[str, ...], tuple[str, ...]] = {}
    exp, new_row = math.exp, tuple.__new__

    def prepare(interaction: Interaction) -> PreparedInteraction:
        occurred_at = interaction.occurred_at
        if occurred_at.tzinfo is None:
            raise ValueError(f"interaction {interaction.key}: occurred_at must be timezone-aware")
        slot, inbound, column, engaged, team_minutes, customer_minutes, weight = profiles[
            interaction.kind, interaction.direction
        ]
        ts = occurred_at.timestamp()
        age = ts - now_ts
        conversation_id = None
        if slot <= EMAILS_RECEIVED:
            conversation_id = interaction.conversation_id
        else:
            team_minutes, customer_minutes = _time_spent(interaction, slot == TASKS)
        week = (ts - timeline_start_ts) // WEEK_SECONDS
        if column is None or not 0 <= week < TIMELINE_WEEKS:
            week_slot = TIMELINE_OFF
        else:
            week_slot = int(week) * TIMELINE_COLUMNS + column
        colleagues = _colleague_ids(interaction.internal)
        # tuple.__new__ skips the NamedTuple's Python-level __new__ (3x faster).
        return new_row(
            PreparedInteraction,
            (
                interaction,
                ts,
                weight * exp(_DECAY_RATE * age) if age <= 0 else 0.0,
                slot,
                week_slot,
                inbound,
                team_minutes,
                customer_minutes,
                engaged,
                conversation_id,
                colleague_sets.setdefault(colleagues, colleagues),
                interaction.opens,
                interaction.clicks,
                interaction.planned and age <= 0,
                _author(interaction.external) if inbound else None,
            ),
        )

    return prepare


def _author(external: tuple[Party, ...]) -> RecordRef | None:
    """The external party who wrote an inbound email or organised an inbound meeting."""
    for party in external:
        if party.role == _FROM or party.role == _ORGANIZER:
            return party.ref
    return None


def _colleague_ids(parties: tuple[Party, ...]) -> tuple[str, ...]:
    if len(parties) == 1:
        return (parties[0].ref.id,)
    return tuple(sorted({party.ref.id for party in parties}))


def prepare_sorted(
    interactions: Iterable[Interaction], time: ScoringTime, weights: Mapping[Kind, float]
) -> list[PreparedInteraction]:
    """Oldest first; raises on the first interaction that cannot be prepared."""
    prepare = preparer(time, weights)
    rows = [prepare(interaction) for interaction in interactions]
    sort_chronologically(rows)
    return rows


def prepare_all(
    interactions: Iterable[Interaction], time: ScoringTime, weights: Mapping[Kind, float]
) -> tuple[list[PreparedInteraction], list[tuple[Interaction, Exception]]]:
    """(prepared rows oldest first, interactions that could not be prepared with why)."""
    prepare = preparer(time, weights)
    rows: list[PreparedInteraction] = []
    broken: list[tuple[Interaction, Exception]] = []
    for interaction in interactions:
        try:
            rows.append(prepare(interaction))
        except Exception as error:  # one bad row fails its records, not the run
            broken.append((interaction, error))
    sort_chronologically(rows)
    return rows, broken


def sort_chronologically(rows: list[PreparedInteraction]) -> None:
    """Oldest first; ties by key so that input order never changes a result."""
    # A float sort is several times faster than sorting (time, key) tuples;
    # interactions at the very same second are rare, so fix those runs after.
    rows.sort(key=_ts)
    order_ties_by_key(rows)


def order_ties_by_key(rows: list[PreparedInteraction]) -> None:
    times = list(map(_ts, rows))
    # Positions whose time equals the next one's, found in C: ties are rare,
    # and a Python loop over a million times cost a second.
    tied = compress(count(), map(eq, times, islice(times, 1, None)))
    start = end = -1  # rows[start:end + 1] have one time
    for position in tied:
        if position != end:
            _order_by_key(rows, start, end)
            start = position
        end = position + 1
    _order_by_key(rows, start, end)


def _order_by_key(rows: list[PreparedInteraction], start: int, end: int) -> None:
    if end > start:
        rows[start : end + 1] = sorted(rows[start : end + 1], key=_key)


def _key(row: PreparedInteraction) -> str:
    return row[0].key


def _time_spent(interaction: Interaction, is_task: bool) -> tuple[float, float]:
    """(team minutes, customer minutes) of a meeting, call or task."""
    duration = interaction.duration_minutes
    if is_task:
        return duration, 0.0
    # A meeting or call costs its duration once per colleague present, but
    # only once for the customer however many of them attend (REFERENCE.md).
    internal = interaction.internal
    if len(internal) == 1:
        colleagues = 0 if internal[0].response == _DECLINED else 1
    elif internal:
        colleagues = len({p.ref.id for p in internal if p.response != _DECLINED})
    else:
        colleagues = 1  # someone of ours logged it
    customer_minutes = duration
    if interaction.external:
        for party in interaction.external:
            if party.response != _DECLINED:
                break
        else:
            customer_minutes = 0.0  # everyone of theirs declined
    return duration * colleagues, customer_minutes
