"""Who knows whom over a book's columns: scoring.introducers' ranking with no Interaction built.

scoring.introducers ranks over `Interaction` values, summing per (person,
colleague) pair the weight of every interaction they shared. Here those
contributions are rows of arrays: the interactions the ranking can count
(held, not after `now`, a colleague who counts on our side and a ranked
person on theirs; each distinct party set is read once, by the reference's
own rules) times their ranked people times their colleagues. The pairs are
summed, given their strength and ranked as arrays too, and the ranking comes
out as arrays (`Ranked`), from which a run makes its stored rows.

numpy's sums and exp may differ from the reference's math.fsum and math.exp in
the last bits; a strength is a rounded figure, so that changes it only when the
figure is within those bits of a rounding boundary. Those few pairs are worked
out again as the reference works them out (`_exact_strength`), so the results
are the reference's (tests/scoring/test_columnar_introducers.py).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import datetime
from typing import NamedTuple

import numpy as np

from scoring.columnar.columns import (
    CALL,
    EMAIL,
    KINDS,
    MEETING,
    Bools,
    Floats,
    Int32s,
    InteractionColumns,
    Ints,
    micros,
    moment,
)
from scoring.columnar.introducer_sets import INDEXED_SHARE, SetArrays, reaching
from scoring.columnar.visits import BookIndex, SetTables, expand
from scoring.introducers import (
    _DECAY_RATE,
    MAX_INTRODUCERS,
    MIN_STRENGTH,
    ONE_WAY_SHARE,
    SATURATION_VOLUME,
    TWO_WAY_TARGET_SHARE,
    Introducer,
    _Parties,
    relationship_strength,
    strength_label,
)
from scoring.model import RecordRef, ScoringSettings
from scoring.prepared import influence_weights

# How far, per contribution summed, a pair's strength before rounding (0-100) may be
# from the reference's. Its sums are numpy's, each within (n - 1) units of roundoff
# (2**-53 of the sum) of the exact sum math.fsum rounds (the weights are all positive),
# and its weights and frequency use numpy's exp, within an ulp or two of math.exp: the
# figure, 100 x a product of such terms, is within about 100 x 3n units, 2**-45 per
# contribution. This margin is 32 times that, counted for n + 8 terms (the 8: the
# frequency's exp and the reciprocity's division, whatever n); a pair nearer a
# rounding boundary is worked out again.
ROUNDING_MARGIN = 2.0**-40


class Ranked(NamedTuple):
    """A ranking as arrays, one entry per introducer, by person (code order), then rank."""

    person: Ints  # a code into `refs`
    colleague: Ints  # a code into `users`
    rank: Ints  # 1 = the strongest
    strength: Ints
    last_us: Ints  # the pair's last interaction, microseconds since the epoch
    refs: list[RecordRef]
    users: list[str]

    def by_record(self) -> dict[RecordRef, tuple[Introducer, ...]]:
        """The ranking as scoring.introducers.rank_introducers gives it."""
        found: dict[RecordRef, list[Introducer]] = {}
        for person, colleague, rank, strength, last_us in zip(
            self.person.tolist(),
            self.colleague.tolist(),
            self.rank.tolist(),
            self.strength.tolist(),
            self.last_us.tolist(),
            strict=True,
        ):
            record = self.refs[person]
            found.setdefault(record, []).append(
                Introducer(
                    record,
                    self.users[colleague],
                    rank,
                    strength,
                    strength_label(strength),
                    moment(last_us),
                )
            )
        return {record: tuple(found[record]) for record in sorted(found)}


def rank_columns(
    columns: InteractionColumns,
    settings: ScoringSettings,
    now: datetime,
    *,
    records: Collection[RecordRef] | None = None,
    colleagues: Collection[str] | None = None,
    excluded: Collection[str] = frozenset(),
    limit: int = MAX_INTRODUCERS,
    index: BookIndex | None = None,
    tables: SetTables | None = None,
    indexed_share: float = INDEXED_SHARE,
) -> Ranked:
    """scoring.introducers.rank_introducers over a book of columns, with no Interaction
    built, as arrays (`Ranked.by_record` gives the reference's shape): every
    (interaction, person, colleague) contribution is one row of arrays, summed per
    (person, colleague) pair; each pair's strength is the reference's
    relationship_strength of its sums, and the pairs are ranked as the reference
    ranks them.

    `index` and `tables`: the book's index by person and its party sets' tables
    (the scoring run's), when `records` are some of the book's people: only
    their interactions and their party sets are read, so a tick that ranks a
    few people costs as much as those people (unless they hold more than
    `indexed_share` of the index: introducer_sets.reaching)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit!r}")
    parties = _Parties(records, colleagues, excluded)
    position, code, sets = reaching(columns, parties, records, index, tables, indexed_share)
    held = ~columns.planned[position] & (columns.ts_us[position] <= micros(now))
    held &= sets.counted[code]
    # Only the interactions that count go on, their positions and set codes as int32.
    counted, set_code = position[held].astype(np.int32), code[held].astype(np.int32)
    del position, code, held
    shared = _Contributions(columns, settings, now, counted, set_code, sets)
    del counted, set_code
    return _ranking(shared.acquaintances(), limit, columns.refs.refs, sets.users)


class _Acquaintances(NamedTuple):
    """Each (person, colleague) pair with a strength, in (person, colleague code) order."""

    person: Ints
    colleague: Ints
    strength: Ints
    last_us: Ints


class _Contributions:
    """Every (interaction, person, colleague) contribution of the interactions at
    `position` (each one's party set `code` into `sets`), sorted by (person,
    colleague) pair; only codes and positions are kept per contribution (int32),
    its weight and time are looked up when summed."""

    def __init__(
        self,
        columns: InteractionColumns,
        settings: ScoringSettings,
        now: datetime,
        position: Int32s,
        code: Int32s,
        sets: SetArrays,
    ) -> None:
        self.columns, self.now, self.sets = columns, now, sets
        self.position = position
        self.ts_us = columns.ts_us[position]
        kind_weights = influence_weights(settings)
        self.kind_weight = np.array([kind_weights[kind] for kind in KINDS])
        # The reference's float arithmetic, elementwise (IEEE: the same values), but for
        # numpy's exp (ROUNDING_MARGIN).
        self.base = self.kind_weight[columns.kind[position]] * np.exp(self._exponent(self.ts_us))
        # (interaction, person) pairs ...
        owner, offset = expand(sets.person_ptr[code + 1] - sets.person_ptr[code], np.int32)
        party = sets.person_ptr[code[owner]] + offset
        del offset
        self.two_way = self._two_way(owner, party)
        # ... times each colleague on the interaction.
        set_of = code[owner]
        mine, offset = expand(sets.colleague_ptr[set_of + 1] - sets.colleague_ptr[set_of], np.int32)
        colleague = sets.colleague_ptr[set_of[mine]] + offset
        del set_of, offset
        self.users = max(len(sets.users), 1)
        # A pair's key, person x users + colleague, in int32 while the book's codes fit.
        wide = len(columns.refs.refs) * self.users >= 2**31
        key = sets.person[party].astype(np.int64 if wide else np.int32)[mine]
        del party
        key *= self.users
        key += sets.user[colleague]
        # A pair's contributions are summed in any order (the margin holds for any).
        order = np.argsort(key)
        self.key = key[order]
        del key
        # `mine`: each contribution's (interaction, person) pair; `owner`: its interaction.
        self.mine = mine[order]
        del mine
        self.colleague = colleague[order]
        del colleague, order
        self.interaction = owner[self.mine]

    def _exponent(self, ts_us: Ints) -> Floats:
        exponent: Floats = _DECAY_RATE * (ts_us / 1_000_000 - self.now.timestamp())
        return exponent

    def _two_way(self, owner: Int32s, party: Int32s) -> Bools:
        """Whether each (interaction, person) pair's person took part (is_two_way)."""
        columns, sets = self.columns, self.sets
        at = self.position[owner]
        kind = columns.kind[at]
        two_way = (kind == CALL) | ((kind == MEETING) & sets.attending[party])
        two_way |= (kind == EMAIL) & columns.inbound[at].astype(np.bool_) & sets.wrote[party]
        found: Bools = two_way
        return found

    def acquaintances(self) -> _Acquaintances:
        if len(self.key) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return _Acquaintances(empty, empty, empty, empty)
        first = np.ones(len(self.key), dtype=np.bool_)
        first[1:] = self.key[1:] != self.key[:-1]
        starts = np.flatnonzero(first)
        del first
        weight = self.base[self.interaction] * self.sets.role_weight[self.colleague]
        volume = np.add.reduceat(weight, starts)
        both_ways = np.add.reduceat(np.where(self.two_way[self.mine], weight, 0.0), starts)
        del weight
        last_us = np.maximum.reduceat(self.ts_us[self.interaction], starts)
        counts = np.diff(np.append(starts, len(self.key)))
        strength, near = _strengths(volume, both_ways, counts)
        for k in np.flatnonzero(near).tolist():
            start = int(starts[k])
            strength[k] = self._exact_strength(start, start + int(counts[k]))
        person, colleague = np.divmod(self.key[starts], self.users)
        return _Acquaintances(person, colleague, strength, last_us)

    def _exact_strength(self, start: int, end: int) -> int:
        """The strength of the pair whose contributions are [start, end), as the
        reference works it out: each weight with math.exp, the sums with math.fsum."""
        at = self.interaction[start:end]
        exponent = self._exponent(self.ts_us[at]).tolist()
        kind_weight = self.kind_weight[self.columns.kind[self.position[at]]].tolist()
        role_weight = self.sets.role_weight[self.colleague[start:end]].tolist()
        two_way = self.two_way[self.mine[start:end]].tolist()
        weights = [
            kind * math.exp(power) * role
            for kind, power, role in zip(kind_weight, exponent, role_weight, strict=True)
        ]
        both_ways = [weight for weight, both in zip(weights, two_way, strict=True) if both]
        return relationship_strength(math.fsum(weights), math.fsum(both_ways))


def _strengths(volume: Floats, both_ways: Floats, counts: Ints) -> tuple[Ints, Bools]:
    """relationship_strength of each pair, by its own operations in order, elementwise;
    and which pairs are so near a rounding boundary that numpy's last bits may have
    rounded them the other way (ROUNDING_MARGIN)."""
    counted = volume > 0  # relationship_strength's 0 is set apart
    positive = np.where(counted, volume, 1.0)
    frequency = 1.0 - np.exp(-positive / SATURATION_VOLUME)
    reciprocity = np.minimum(1.0, both_ways / (TWO_WAY_TARGET_SHARE * positive))
    raw = 100 * frequency * (ONE_WAY_SHARE + (1 - ONE_WAY_SHARE) * reciprocity)
    strength: Ints = np.where(counted, np.rint(raw), 0).astype(np.int64)
    near: Bools = counted & (np.abs(raw - np.floor(raw) - 0.5) <= ROUNDING_MARGIN * (counts + 8))
    return strength, near


def _ranking(pairs: _Acquaintances, limit: int, refs: list[RecordRef], users: list[str]) -> Ranked:
    """The reference's ranking of the pairs (rank_introducers): each person's pairs of at least
    MIN_STRENGTH, strongest first, the more recent last interaction first on a tie,
    then by colleague id; the first `limit` of them."""
    kept = pairs.strength >= MIN_STRENGTH
    person, colleague = pairs.person[kept], pairs.colleague[kept]
    strength, last_us = pairs.strength[kept], pairs.last_us[kept]
    id_order = np.zeros(len(users), dtype=np.int64)
    id_order[sorted(range(len(users)), key=users.__getitem__)] = np.arange(len(users))
    order = np.lexsort((id_order[colleague], -_epoch(last_us), -strength, person))
    person, colleague = person[order], colleague[order]
    strength, last_us = strength[order], last_us[order]
    first = np.ones(len(person), dtype=np.bool_)
    first[1:] = person[1:] != person[:-1]
    starts = np.flatnonzero(first)
    rank = np.arange(1, len(person) + 1) - np.repeat(
        starts, np.diff(np.append(starts, len(person)))
    )
    shown = rank <= limit
    return Ranked(
        person[shown],
        colleague[shown],
        rank[shown],
        strength[shown],
        last_us[shown],
        refs,
        users,
    )


# Microseconds from here on are not all floats: their division may round twice.
_EXACT_MICROS = 2**53


def _epoch(us: Ints) -> Floats:
    """The epoch seconds the reference compares (datetime.timestamp, the microseconds
    divided exactly once), for ties between moments closer than a float tells apart."""
    if len(us) == 0 or int(np.abs(us).max()) < _EXACT_MICROS:
        seconds: Floats = us / 1_000_000
        return seconds
    return np.array([value / 1_000_000 for value in us.tolist()], dtype=np.float64)
