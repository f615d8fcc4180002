"""Which interactions each record reads, as two arrays: (record, position) visits.

The rule is scoring.scope's (`belongs_to`): an interaction counts for a
record when it regards the record, or when one of its external parties is one
of the record's people and, with a team, one of ours on it is in the team.
Here the rule is two joins over codes instead of a gather per record: the
interactions' (position, person) pairs joined with the records' (record,
person) pairs, the team checked over (record, colleague) pairs, plus the
(position, regarding) pairs; each visit once, sorted by record then time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.columnar.by_record import run_starts
from scoring.columnar.columns import Bools, Codes, InteractionColumns, Ints

# The party sets' tables live in party_tables.py; named here too, where the columnar
# modules have always found them.
from scoring.columnar.party_tables import SetTables as SetTables
from scoring.columnar.party_tables import set_tables as set_tables
from scoring.model import RecordRef, RecordScope


def expand(counts: Ints, dtype: type[np.signedinteger[Any]] = np.int64) -> tuple[Any, Any]:
    """(owner, offset) of each element when owner k has counts[k] elements, as `dtype`
    (int32 halves what a caller keeps per element; it refuses 2**31 elements or more,
    which would wrap around)."""
    if dtype is not np.int64 and len(counts) and int(counts.sum()) >= 1 << 31:
        raise OverflowError("2**31 elements or more do not fit int32 positions")
    if (counts == 1).all():  # one each (most party sets have one colleague, one person)
        return np.arange(len(counts), dtype=dtype), np.zeros(len(counts), dtype=dtype)
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(counts), dtype=dtype), counts)
    starts = (np.cumsum(counts) - counts).astype(dtype)
    offset = np.arange(total, dtype=dtype) - np.repeat(starts, counts)
    return owner, offset


def unique_sorted(values: Ints) -> Ints:
    """Sorted distinct values (np.unique hashes in numpy 2.3+, several times slower here).

    The values scoring sorts are mostly sorted already, runs by record: the stable
    sort (timsort) merges the runs, 10-20x faster here than the default quicksort."""
    values = np.sort(values, kind="stable")
    if len(values) == 0:
        return values
    return values[run_starts(values)]


def sorted_groups(values: npt.NDArray[Any]) -> tuple[Ints, Ints]:
    """(a row of each distinct value, in the values' sorted order; which of them each
    row's value is), by one stable sort (np.unique hashes in numpy 2.3+, several
    times slower here)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = run_starts(ordered)
    which = np.empty(len(values), dtype=np.int64)
    which[order] = np.cumsum(new) - 1
    return order[new], which


def contains(sorted_values: Ints, values: Ints) -> Bools:
    """values[k] in sorted_values, for every k."""
    if len(sorted_values) == 0:
        return np.zeros(len(values), dtype=np.bool_)
    at = np.searchsorted(sorted_values, values)
    at[at == len(sorted_values)] = 0
    found: Bools = sorted_values[at] == values
    return found


@dataclass
class Visits:
    """Every (record, interaction) pair of the book, sorted by record, then by time."""

    record: Ints
    position: Ints
    # An external party of the interaction is one of the record's people
    # (whether or not the team let the interaction in).
    has_person: Bools
    # (record, person) pairs of the records' people, as record * people + person, sorted.
    members: Ints
    people_count: int
    # records reaching a broken interaction: record -> index into columns.broken
    broken: dict[int, int]
    # How many of the visits are the group's scopes' (the first ones: the persons read
    # for roll-ups come after them). Only these feed KPIs and reasons.
    scoped: int


def _join(left_key: Ints, ptr: Ints, values: Ints) -> tuple[Ints, Ints]:
    """(left index, value) for every value of each left key, the values of key k
    being values[ptr[k]:ptr[k + 1]]; a key past the index's (coded after it was
    built) has none."""
    last = len(ptr) - 1
    lo = ptr[np.minimum(left_key, last)]
    hi = ptr[np.minimum(left_key + 1, last)]
    owner, offset = expand(hi - lo)
    return owner, values[lo[owner] + offset]


@dataclass
class BookIndex:
    """The book's interactions by external person and by regarding record (each sorted
    by that code), built once per run: any set of records then finds its visits
    by looking up only its own people and records."""

    person: Ints
    person_position: Ints
    regarding: Ints
    regarding_position: Ints
    # Where each code's entries start, by code (CSR over the refs coded so far).
    person_ptr: Ints
    regarding_ptr: Ints


def index_book(columns: InteractionColumns, tables: SetTables) -> BookIndex:
    pair_position, pair_person = person_pairs(
        columns.party_set, np.arange(len(columns), dtype=np.int64), tables
    )
    order = np.argsort(pair_person, kind="stable")
    regarded = np.flatnonzero(columns.regarding >= 0)
    by_ref = np.argsort(columns.regarding[regarded], kind="stable")
    person = pair_person[order]
    regarding = columns.regarding[regarded[by_ref]].astype(np.int64)
    codes = np.arange(len(columns.refs.refs) + 1)
    return BookIndex(
        person,
        pair_position[order],
        regarding,
        regarded[by_ref],
        np.searchsorted(person, codes),
        np.searchsorted(regarding, codes),
    )


def person_pairs(party_set: Codes, positions: Ints, tables: SetTables) -> tuple[Ints, Ints]:
    """(position, external person) of every external person of the interactions at
    `positions` (ascending), by position, then the set's order of its people."""
    sets = party_set[positions]
    with_parties = sets >= 0
    if not with_parties.all():
        positions, sets = positions[with_parties], sets[with_parties]
    owner, offset = expand(tables.ext_ptr[sets + 1] - tables.ext_ptr[sets])
    return positions[owner], tables.ext_person[tables.ext_ptr[sets[owner]] + offset]


@dataclass
class GroupCodes:
    """One group's records as codes: its scopes [start, end), then a person scope for
    each person a deal or account of it rolls up whose own scope it does not hold
    (codes.group_codes makes them; build_visits reads them)."""

    record: Ints  # by record of the group
    member_record: Ints  # (record, person) pairs of the records' people
    member_person: Ints
    team_record: Ints  # (record, colleague) pairs of the records' teams
    team_user: Ints
    has_team: Bools
    rolled_up: list[bool]  # by scope of the group
    # The persons the group's deals and accounts roll up -> their record in the group.
    people: dict[RecordRef, int]
    scopes: int  # how many of the records are the group's scopes

    def persons_added(self, refs: list[RecordRef]) -> list[RecordRef]:
        """The persons read after the scopes, in their order."""
        return [refs[code] for code in self.record[self.scopes :].tolist()]


def build_visits(
    columns: InteractionColumns,
    tables: SetTables,
    group: GroupCodes,
    book: BookIndex,
    scopes: Sequence[RecordScope],
) -> Visits:
    """The group's visits; `scopes`: its records' scopes, read only when the book
    holds a broken interaction."""
    n = len(columns)
    people_count = len(columns.refs.refs) + 1
    members_record, members_person = group.member_record, group.member_person
    members = unique_sorted(members_record * people_count + members_person)
    has_team, team_record, team_user = group.has_team, group.team_record, group.team_user

    # (record, position) for every interaction with one of the record's people,
    # each pair once.
    left, position = _join(members_person, book.person_ptr, book.person_position)
    via_person = unique_sorted(members_record[left] * n + position)
    del left, position
    record, position = np.divmod(via_person, max(n, 1))
    # The team: one of ours on it is in the record's team.
    kept = np.ones(len(via_person), dtype=np.bool_)
    teamed = has_team[record]
    if teamed.any():
        party_set = columns.party_set
        check = np.flatnonzero(teamed)
        sets_of = party_set[position[check]]
        owner, offset = expand(tables.user_ptr[sets_of + 1] - tables.user_ptr[sets_of])
        users = tables.user[tables.user_ptr[sets_of[owner]] + offset]
        team_keys = unique_sorted(team_record * max(len(tables.users), 1) + team_user)
        hit = contains(team_keys, record[check[owner]] * max(len(tables.users), 1) + users)
        in_team = np.bincount(owner[hit], minlength=len(check)) > 0
        kept[check[~in_team]] = False
    del record, position
    # What regards the record.
    by_regarding, regarded = _join(group.record, book.regarding_ptr, book.regarding_position)
    keys, has_person = _visits_of(via_person, kept, by_regarding * n + regarded)
    visit_record, visit_position = np.divmod(keys, max(n, 1))
    return Visits(
        visit_record,
        visit_position,
        has_person,
        members,
        people_count,
        _broken_reached(columns, scopes),
        int(np.searchsorted(visit_record, group.scopes)),
    )


def _visits_of(via_person: Ints, kept: Bools, via_regarding: Ints) -> tuple[Ints, Bools]:
    """The visit keys (record * n + position), sorted, each once: those through the
    record's people that the team kept (`via_person`, sorted, each once) and those
    through what regards the record (sorted, each once); and whether each visit
    has one of the record's people on it, kept by the team or not.

    One stable sort merges the two runs; a key found both ways has its person
    entry first, which stands for both."""
    both = np.concatenate([via_person, via_regarding])
    order = np.argsort(both, kind="stable")
    ordered = both[order]
    from_person = order < len(via_person)
    shown = np.concatenate([kept, np.ones(len(via_regarding), dtype=np.bool_)])[order]
    again = np.zeros(len(ordered), dtype=np.bool_)
    again[1:] = ordered[1:] == ordered[:-1]
    paired = np.zeros(len(ordered), dtype=np.bool_)
    paired[:-1] = again[1:]
    first = ~again & (shown | paired)
    return ordered[first], from_person[first]


def _broken_reached(columns: InteractionColumns, scopes: Sequence[RecordScope]) -> dict[int, int]:
    """The records that reach a broken interaction, with the last one they reach
    (scoring.scope.InteractionIndex.gather raises that one's error)."""
    if not columns.broken:
        return {}
    reached: dict[int, int] = {}
    for index, scope in enumerate(scopes):
        for number, (interaction, _error) in enumerate(columns.broken):
            # The index lets a broken interaction past the team filter (it has
            # no colleagues to check): the record fails rather than miss it.
            if interaction.regarding == scope.record or any(
                party.ref in scope.people for party in interaction.external
            ):
                reached[index] = number
    return reached
