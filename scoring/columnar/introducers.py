"""Who knows whom over a book's columns: scoring.introducers' ranking with no Interaction built.

scoring.introducers ranks over `Interaction` values, summing per (person,
colleague) pair the weight of every interaction they shared. Here those
contributions are rows of arrays: the interactions the ranking can count
(held, not after `now`, a colleague who counts on our side and a ranked
person on theirs; each distinct party set is read once, by the reference's
own rules) times their ranked people times their colleagues. Each pair's sums
are math.fsum, as the reference's, and the pairs are ranked by the
reference's `ranking`, so the results are the reference's
(tests/scoring/test_columnar_introducers.py).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from datetime import datetime
from typing import NamedTuple

import numpy as np

from scoring.columnar.columns import (
    CALL,
    EMAIL,
    KINDS,
    MEETING,
    RESPONSE_CODES,
    ROLE_CODES,
    Bools,
    Floats,
    InteractionColumns,
    Ints,
    micros,
    moment,
)
from scoring.columnar.visits import BookIndex, SetTables, expand, unique_sorted
from scoring.introducers import (
    _ATTENDING,
    _DECAY_RATE,
    INTRODUCED_TYPES,
    MAX_INTRODUCERS,
    Acquaintance,
    Introducer,
    _colleague_weights,
    _Parties,
    ranking,
    relationship_strength,
)
from scoring.model import RecordRef, Role, ScoringSettings
from scoring.prepared import influence_weights

# A ranking whose people hold more of the index than this (a regrade's) reads every
# party set: that costs less than sorting out which sets they are on.
INDEXED_SHARE = 0.9


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
) -> dict[RecordRef, tuple[Introducer, ...]]:
    """scoring.introducers.rank_introducers over a book of columns, with no Interaction
    built: every (interaction, person, colleague) contribution is one row of
    arrays, each (person, colleague) pair's contributions are summed with
    math.fsum as the reference sums them (exact: the order never matters), and
    the pairs are ranked by the reference's own `ranking`. Each weight is the
    reference's float: its decay is math.exp per interaction, not numpy's.

    `index` and `tables`: the book's index by person and its party sets' tables
    (the scoring run's), when `records` are some of the book's people: only
    their interactions and their party sets are read, so a tick that ranks a
    few people costs as much as those people."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit!r}")
    parties = _Parties(records, colleagues, excluded)
    position, code, sets = _reaching(columns, parties, records, index, tables)
    mask = ~columns.planned[position] & (columns.ts_us[position] <= micros(now))
    mask &= sets.counted[code]
    position, code = position[mask], code[mask]
    # (interaction, person) pairs ...
    owner, offset = expand(sets.person_ptr[code + 1] - sets.person_ptr[code])
    party = sets.person_ptr[code[owner]] + offset
    at = position[owner]
    kind = columns.kind[at]
    two_way = (kind == CALL) | ((kind == MEETING) & sets.attending[party])
    two_way |= (kind == EMAIL) & columns.inbound[at].astype(np.bool_) & sets.wrote[party]
    # Each array over the contributions (about 2M at 1M at a regrade, 16 MB each) is
    # dropped as soon as it is used up: the ranking's peak is theirs.
    del at, kind
    # ... times each colleague on the interaction.
    set_of = code[owner]
    mine, offset = expand(sets.colleague_ptr[set_of + 1] - sets.colleague_ptr[set_of])
    colleague = sets.colleague_ptr[set_of[mine]] + offset
    del set_of, offset
    now_ts = now.timestamp()
    kind_weights = influence_weights(settings)
    kind_weight = np.array([kind_weights[kind] for kind in KINDS])
    # The reference's float arithmetic, elementwise (IEEE: the same values), and its
    # math.exp, value by value.
    exponent = _DECAY_RATE * (columns.ts_us[position] / 1_000_000 - now_ts)
    base = kind_weight[columns.kind[position]] * _exp(exponent)
    del exponent
    # `mine`: each contribution's (interaction, person) pair; `owner`: a pair's interaction.
    interaction = owner[mine]
    weight = base[interaction] * sets.role_weight[colleague]
    del base
    users = max(len(sets.users), 1)
    key = sets.person[party[mine]] * users + sets.user[colleague]
    del party, colleague
    two_way, ts_us = two_way[mine], columns.ts_us[position][interaction]
    del owner, mine, interaction
    order = np.argsort(key, kind="stable")
    key, weight, ts_us = key[order], weight[order], ts_us[order]
    two_way_weight = np.where(two_way[order], weight, 0.0)
    del order, two_way
    if len(key) == 0:
        return ranking((), limit)
    first = np.ones(len(key), dtype=np.bool_)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    last_us = np.maximum.reduceat(ts_us, starts).tolist()
    refs = columns.refs.refs
    pair_person, pair_user = np.divmod(key[starts], users)
    sums = _pair_sums(weight, two_way_weight, starts)

    def acquaintances() -> Iterator[Acquaintance]:
        for k, (who, colleague_code, (total, both_ways)) in enumerate(
            zip(pair_person.tolist(), pair_user.tolist(), sums, strict=True)
        ):
            strength = relationship_strength(total, both_ways)
            last = moment(last_us[k])
            yield refs[who], sets.users[colleague_code], strength, last.timestamp(), last

    return ranking(acquaintances(), limit)


# Contributions made Python floats at a time, for math.fsum and math.exp: a float
# object costs 32 bytes, and a regrade's ranking at 1M sums about 2M contributions
# twice (as whole lists the ranking's peak was 146 MiB above the scoring's).
FLOATS_AT_ONCE = 1 << 16


def _exp(exponent: Floats) -> Floats:
    """math.exp of each value (the reference's float, not numpy's), a slice at a time."""
    decay = np.empty(len(exponent), dtype=np.float64)
    for at in range(0, len(exponent), FLOATS_AT_ONCE):
        part = exponent[at : at + FLOATS_AT_ONCE].tolist()
        decay[at : at + len(part)] = np.fromiter(map(math.exp, part), np.float64, len(part))
    return decay


def _pair_sums(weight: Floats, two_way: Floats, starts: Ints) -> Iterator[tuple[float, float]]:
    """Each pair's math.fsum of its weights and of its two-way weights, the pair's
    contributions being [starts[k], starts[k + 1]); the values are made Python
    floats a slice of about FLOATS_AT_ONCE at a time (a pair is never split)."""
    fsum, total = math.fsum, len(weight)
    bounds = [*starts.tolist(), total]
    held_from = 0  # weights and two_ways hold the values from here on
    weights: list[float] = []
    two_ways: list[float] = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi > held_from + len(weights):
            held_from, end = lo, max(hi, min(lo + FLOATS_AT_ONCE, total))
            weights, two_ways = weight[lo:end].tolist(), two_way[lo:end].tolist()
        a, b = lo - held_from, hi - held_from
        yield fsum(weights[a:b]), fsum(two_ways[a:b])


def _reaching(
    columns: InteractionColumns,
    parties: _Parties,
    records: Collection[RecordRef] | None,
    index: BookIndex | None,
    tables: SetTables | None,
) -> tuple[Ints, Ints, _SetArrays]:
    """The positions of the interactions that may count (those with parties; with
    `index`, `tables` and `records`, only those with one of the records on them), each
    one's party set as a code into the sets read, and those sets (each distinct
    set the positions hold, once)."""
    party_set = columns.party_set
    if index is not None and tables is not None and records is not None:
        known = columns.refs.codes
        people = np.array(
            sorted(known[ref] for ref in records if ref.type in INTRODUCED_TYPES and ref in known),
            dtype=np.int64,
        )
        # A person coded after the index was built has no entries in it.
        people = people[people < len(index.person_ptr) - 1]
        lo, hi = index.person_ptr[people], index.person_ptr[people + 1]
        if int((hi - lo).sum()) <= INDEXED_SHARE * len(index.person_position):
            return _reached(columns, parties, index, tables, people, lo, hi)
    position = np.flatnonzero(party_set >= 0)
    return position, party_set[position].astype(np.int64), _SetParties.read(columns, parties)


def _reached(
    columns: InteractionColumns,
    parties: _Parties,
    index: BookIndex,
    tables: SetTables,
    people: Ints,
    lo: Ints,
    hi: Ints,
) -> tuple[Ints, Ints, _SetArrays]:
    """_reaching of `people` (codes), whose entries in the index are [lo, hi)."""
    owner, offset = expand(hi - lo)
    position = unique_sorted(index.person_position[lo[owner] + offset])
    which, code = _distinct(columns.party_set[position], len(columns.sets.internal))
    return position, code, _SetParties.tabled(columns, parties, tables, people, which)


def _distinct(values: Ints, bound: int) -> tuple[Ints, Ints]:
    """(the distinct values, sorted; which of them each value is), for values in
    [0, bound): a mark per value, no sort."""
    seen = np.zeros(bound, dtype=np.bool_)
    seen[values] = True
    place = np.cumsum(seen) - 1
    return np.flatnonzero(seen), place[values]


class _SetParties:
    """Per distinct party set, who counts for the ranking (scoring.introducers._Parties),
    as arrays by set code: the ranked people (CSR), the colleagues with their role
    weight (CSR), and whether the set holds both."""

    def __init__(self) -> None:
        self.person_ptr: list[int] = [0]
        self.person: list[int] = []
        self.wrote: list[bool] = []  # the person is the email's sender
        self.attending: list[bool] = []  # organised or attends the meeting
        self.colleague_ptr: list[int] = [0]
        self.user: list[int] = []
        self.role_weight: list[float] = []
        self.users: list[str] = []
        self.counted: list[bool] = []

    @classmethod
    def read(cls, columns: InteractionColumns, parties: _Parties) -> _SetArrays:
        """Every set's arrays, by set code."""
        found = cls()
        user_codes: dict[str, int] = {}
        code = columns.refs.code
        for internal, external in zip(columns.sets.internal, columns.sets.external, strict=True):
            people = [party for party in external if parties.person(party) is not None]
            ours = _colleague_weights(internal, parties)
            counted = bool(people) and bool(ours)
            found.counted.append(counted)
            if counted:
                for party in people:
                    found.person.append(code(party.ref))
                    found.wrote.append(party.role is Role.FROM)
                    found.attending.append(
                        party.role is Role.ORGANIZER or party.response in _ATTENDING
                    )
                for user, role_weight in ours:
                    found.user.append(user_codes.setdefault(user, len(user_codes)))
                    found.role_weight.append(role_weight)
            found.person_ptr.append(len(found.person))
            found.colleague_ptr.append(len(found.user))
        found.users = list(user_codes)
        return _SetArrays(
            np.array(found.person_ptr, dtype=np.int64),
            np.array(found.person, dtype=np.int64),
            np.array(found.wrote, dtype=np.bool_),
            np.array(found.attending, dtype=np.bool_),
            np.array(found.colleague_ptr, dtype=np.int64),
            np.array(found.user, dtype=np.int64),
            np.array(found.role_weight, dtype=np.float64),
            found.users,
            np.array(found.counted, dtype=np.bool_),
        )

    @classmethod
    def tabled(
        cls,
        columns: InteractionColumns,
        parties: _Parties,
        tables: SetTables,
        people: Ints,
        which: Ints,
    ) -> _SetArrays:
        """The arrays of the sets `which` (set codes, each holding one of `people`), in
        that order (their codes are places in `which`): the people's side from the
        book's tables (visits.SetTables: every external party, in order, as codes),
        the colleagues' as `read` works them out."""
        ranked = np.zeros(len(columns.refs.refs), dtype=np.bool_)
        ranked[people] = True
        start = tables.party_ptr[which]
        owner, offset = expand(tables.party_ptr[which + 1] - start)
        at = start[owner] + offset
        kept = ranked[tables.party_person[at]]
        at = at[kept]
        person_ptr = np.zeros(len(which) + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[kept], minlength=len(which)), out=person_ptr[1:])
        role = tables.party_role[at]
        attending = (role == ROLE_CODES[Role.ORGANIZER]) | np.isin(
            tables.party_response[at], [RESPONSE_CODES[r] for r in _ATTENDING]
        )
        found = cls()
        user_codes: dict[str, int] = {}
        internals = columns.sets.internal
        for k in which.tolist():
            for user, role_weight in _colleague_weights(internals[k], parties):
                found.user.append(user_codes.setdefault(user, len(user_codes)))
                found.role_weight.append(role_weight)
            found.colleague_ptr.append(len(found.user))
        colleague_ptr = np.array(found.colleague_ptr, dtype=np.int64)
        return _SetArrays(
            person_ptr,
            tables.party_person[at],
            role == ROLE_CODES[Role.FROM],
            attending,
            colleague_ptr,
            np.array(found.user, dtype=np.int64),
            np.array(found.role_weight, dtype=np.float64),
            list(user_codes),
            (np.diff(person_ptr) > 0) & (np.diff(colleague_ptr) > 0),
        )


class _SetArrays(NamedTuple):
    person_ptr: Ints
    person: Ints
    wrote: Bools
    attending: Bools
    colleague_ptr: Ints
    user: Ints
    role_weight: Floats
    users: list[str]
    counted: Bools
