"""Who knows whom: rank colleagues by the strength of their relationship with a person.

For every external contact or lead, each colleague (system user) who took
part in interactions with them gets a strength from 0 to 100:

    volume    = sum of  influence weight x role weight x 0.5 ** (age days / 90)
    two_way   = the same sum over the interactions the customer took part in
    frequency = 1 - exp(-volume / SATURATION_VOLUME)
    reciprocity = min(1, two_way / (TWO_WAY_TARGET_SHARE x volume))
    strength  = round(100 x frequency x (ONE_WAY_SHARE + (1 - ONE_WAY_SHARE) x reciprocity))

The time decay makes it frequency plus recency in one figure: a colleague who
talks to the customer every week outranks one who talked to them often a year
ago. docs/scoring.md ("Who knows whom") explains every constant.

Pure: plain values in, plain values out, `now` is an argument. Every seller
gets the same ranking; who is asking never enters.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from scoring.model import (
    Direction,
    Interaction,
    Kind,
    Party,
    RecordRef,
    RecordType,
    Response,
    Role,
    ScoringSettings,
)
from scoring.prepared import DAY_SECONDS, influence_weights

# An acquaintance fades slower than a relationship's health (21 days there):
# a colleague who met the customer every month last quarter can still
# introduce them; one who last wrote a year ago counts a sixteenth.
INTRODUCER_HALF_LIFE_DAYS = 90.0
# The decayed volume at which frequency reaches 1 - 1/e (63 %): about six
# recent full-weight interactions. A monthly meeting reads 0.55, a weekly
# email exchange is close to 1.
SATURATION_VOLUME = 6.0
# The customer taking part in one interaction out of three already makes the
# relationship fully two-way: sellers write more than customers answer.
TWO_WAY_TARGET_SHARE = 1 / 3
# What a relationship the customer never answered keeps of its frequency:
# at most 25, so it can only ever be "weak".
ONE_WAY_SHARE = 0.25
# Copied on an email or optional at a meeting is weaker evidence of knowing
# someone than writing to them or sitting in the meeting.
PASSIVE_ROLE_WEIGHT = 0.5
PASSIVE_ROLES = frozenset({Role.CC, Role.BCC, Role.OPTIONAL})

STRONG_MIN = 60
MODERATE_MIN = 30
MIN_STRENGTH = 1  # a strength that rounds to 0 is no relationship left to speak of
MAX_INTRODUCERS = 10  # per record: who to ask first, not a directory

INTRODUCED_TYPES = frozenset({RecordType.CONTACT, RecordType.LEAD})
# Answers that show the customer will be there; None is a completed CRM
# appointment, which carries no answers.
_ATTENDING: frozenset[Response | None] = frozenset({Response.ACCEPTED, Response.TENTATIVE, None})
_DECAY_RATE = math.log(2) / (INTRODUCER_HALF_LIFE_DAYS * DAY_SECONDS)


class StrengthLabel(StrEnum):
    STRONG = "strong"
    MODERATE = "moderate"
    WEAK = "weak"


@dataclass(frozen=True, slots=True)
class Introducer:
    """One colleague who can introduce a seller to `record`."""

    record: RecordRef
    system_user_id: str
    rank: int  # 1 = the strongest
    strength: int  # 0..100
    label: StrengthLabel
    last_interaction_at: datetime


def strength_label(strength: int) -> StrengthLabel:
    if strength >= STRONG_MIN:
        return StrengthLabel.STRONG
    if strength >= MODERATE_MIN:
        return StrengthLabel.MODERATE
    return StrengthLabel.WEAK


def relationship_strength(volume: float, two_way: float) -> int:
    """The 0-100 strength of one colleague's relationship with one person."""
    if volume <= 0:
        return 0
    frequency = 1.0 - math.exp(-volume / SATURATION_VOLUME)
    reciprocity = min(1.0, two_way / (TWO_WAY_TARGET_SHARE * volume))
    return round(100 * frequency * (ONE_WAY_SHARE + (1 - ONE_WAY_SHARE) * reciprocity))


def is_two_way(interaction: Interaction, person: Party) -> bool:
    """Whether the customer took part, rather than only being written to."""
    kind = interaction.kind
    if kind is Kind.CALL:
        return True  # a completed call is a conversation, whoever dialled
    if kind is Kind.EMAIL:  # they wrote it; being copied on a colleague's email is not writing
        return interaction.direction is Direction.INBOUND and person.role is Role.FROM
    if kind is Kind.MEETING:  # they organised it or attended it; a declined invitation is not
        return person.role is Role.ORGANIZER or person.response in _ATTENDING
    return False  # a task is our own work


class _Acquaintance:
    """What one colleague and one person share, gathered over the run."""

    __slots__ = ("last_at", "last_ts", "two_way", "volume")

    def __init__(self, at: datetime, ts: float) -> None:
        self.volume: list[float] = []
        self.two_way: list[float] = []
        self.last_at, self.last_ts = at, ts

    def add(self, weight: float, two_way: bool, at: datetime, ts: float) -> None:
        self.volume.append(weight)
        if two_way:
            self.two_way.append(weight)
        if ts > self.last_ts:
            self.last_at, self.last_ts = at, ts

    def strength(self) -> int:
        # fsum is exact, so the input order of the interactions never changes a result.
        return relationship_strength(math.fsum(self.volume), math.fsum(self.two_way))


Pair = tuple[RecordRef, str]


class _Parties:
    """Who on an interaction counts, worked out once per distinct party.

    Parties repeat across a whole book (interned upstream), so a memo keeps
    the per-interaction work to dictionary lookups.
    """

    def __init__(
        self,
        records: Collection[RecordRef] | None,
        colleagues: Collection[str] | None,
        excluded: Collection[str],
    ) -> None:
        self._records = None if records is None else frozenset(records)
        self._colleagues = None if colleagues is None else frozenset(colleagues)
        self._excluded = frozenset(excluded)
        self._colleague: dict[Party, tuple[str, float] | None] = {}
        self._person: dict[Party, RecordRef | None] = {}

    def colleague(self, party: Party) -> tuple[str, float] | None:
        """(system user id, role weight), or None for anyone who does not count."""
        try:
            return self._colleague[party]
        except KeyError:
            found = self._colleague[party] = self._read_colleague(party)
            return found

    def _read_colleague(self, party: Party) -> tuple[str, float] | None:
        ref = party.ref
        if ref.type is not RecordType.SYSTEM_USER or party.response is Response.DECLINED:
            return None  # a colleague who declined the meeting was not there
        if ref.id in self._excluded or (
            self._colleagues is not None and ref.id not in self._colleagues
        ):
            return None
        return ref.id, PASSIVE_ROLE_WEIGHT if party.role in PASSIVE_ROLES else 1.0

    def person(self, party: Party) -> RecordRef | None:
        try:
            return self._person[party]
        except KeyError:
            ref = party.ref
            ranked = ref.type in INTRODUCED_TYPES and (
                self._records is None or ref in self._records
            )
            found = self._person[party] = ref if ranked else None
            return found


def _colleague_weights(
    internal: tuple[Party, ...], parties: _Parties
) -> tuple[tuple[str, float], ...]:
    """(colleague id, role weight) pairs, the strongest role when one is listed twice."""
    weights: dict[str, float] = {}
    for party in internal:
        found = parties.colleague(party)
        if found is not None and found[1] > weights.get(found[0], 0.0):
            weights[found[0]] = found[1]
    return tuple(weights.items())


def _gather(
    interactions: Iterable[Interaction],
    settings: ScoringSettings,
    now_ts: float,
    parties: _Parties,
) -> dict[Pair, _Acquaintance]:
    kind_weights = influence_weights(settings)
    pairs: dict[Pair, _Acquaintance] = {}
    # Colleague sets repeat across a book: each distinct one is read once.
    colleague_sets: dict[tuple[Party, ...], tuple[tuple[str, float], ...]] = {}
    exp, person_of = math.exp, parties.person
    for interaction in interactions:
        if interaction.planned:
            continue  # not held yet: it says nothing about who knows whom
        at = interaction.occurred_at
        ts = at.timestamp()
        if ts > now_ts:
            continue
        internal = interaction.internal
        colleagues = colleague_sets.get(internal)
        if colleagues is None:
            colleagues = colleague_sets[internal] = _colleague_weights(internal, parties)
        if not colleagues:
            continue
        base = kind_weights[interaction.kind] * exp(_DECAY_RATE * (ts - now_ts))
        for person in interaction.external:
            ref = person_of(person)
            if ref is None:
                continue
            two_way = is_two_way(interaction, person)
            for colleague, role_weight in colleagues:
                found = pairs.get((ref, colleague))
                if found is None:
                    found = pairs[ref, colleague] = _Acquaintance(at, ts)
                found.add(base * role_weight, two_way, at, ts)
    return pairs


# (-strength, -last interaction epoch, colleague id, last interaction): sorts best first.
_Candidate = tuple[int, float, str, datetime]


def rank_introducers(
    interactions: Iterable[Interaction],
    settings: ScoringSettings,
    now: datetime,
    *,
    records: Collection[RecordRef] | None = None,
    colleagues: Collection[str] | None = None,
    excluded: Collection[str] = frozenset(),
    limit: int = MAX_INTRODUCERS,
) -> dict[RecordRef, tuple[Introducer, ...]]:
    """The introducers of every contact or lead met in `interactions`, strongest first.

    `records` narrows the people ranked (None: every contact and lead met);
    `colleagues` narrows who may introduce (None: every system user met);
    `excluded` colleagues never appear. Interactions after `now` and planned
    ones are ignored. Ties rank the more recent acquaintance first, then by
    colleague id, so the order is total. Bad settings or a naive `now` raise
    ValueError.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit!r}")
    parties = _Parties(records, colleagues, excluded)
    pairs = _gather(interactions, settings, now.timestamp(), parties)
    by_record: dict[RecordRef, list[_Candidate]] = {}
    for (record, colleague), acquaintance in pairs.items():
        strength = acquaintance.strength()
        if strength >= MIN_STRENGTH:
            candidate = (-strength, -acquaintance.last_ts, colleague, acquaintance.last_at)
            by_record.setdefault(record, []).append(candidate)
    return {
        record: _ranked(record, candidates, limit)
        for record, candidates in sorted(by_record.items())
    }


def _ranked(record: RecordRef, candidates: list[_Candidate], limit: int) -> tuple[Introducer, ...]:
    candidates.sort(key=lambda c: c[:3])
    return tuple(
        Introducer(record, colleague, rank, -negative, strength_label(-negative), last_at)
        for rank, (negative, _ts, colleague, last_at) in enumerate(candidates[:limit], start=1)
    )
