"""Which interactions and party sets who knows whom counts (scoring.columnar.introducers).

Each distinct party set is read once, by the reference's rules
(scoring.introducers._Parties): its ranked people on their side and its
colleagues who count on ours, with their role weights, as arrays by set code
(`SetArrays`). A tick ranks a few records' people: their interactions come
from the run's index by person, and only the sets those hold are read, the
people's side from the run's tables of every set (visits.SetTables). A
regrade ranks everyone: every set is read.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import NamedTuple

import numpy as np

from scoring.columnar.by_record import pointers
from scoring.columnar.columns import (
    RESPONSE_CODES,
    ROLE_CODES,
    Bools,
    Floats,
    Int32s,
    InteractionColumns,
    Ints,
    Refs,
)
from scoring.columnar.visits import BookIndex, SetTables, expand
from scoring.introducers import _ATTENDING, INTRODUCED_TYPES, _colleague_weights, _Parties
from scoring.model import Party, RecordRef, Role

# A ranking whose people hold more of the index than this (a regrade's) reads every
# party set: that costs less than sorting out which sets they are on.
INDEXED_SHARE = 0.9


def reaching(
    columns: InteractionColumns,
    parties: _Parties,
    records: Collection[RecordRef] | None,
    index: BookIndex | None,
    tables: SetTables | None,
    indexed_share: float = INDEXED_SHARE,
) -> tuple[Ints, Ints, SetArrays]:
    """The positions of the interactions that may count (those with parties; with
    `index`, `tables` and `records`, only those with one of the records on them), each
    one's party set as a code into the sets read, and those sets (each distinct
    set the positions hold, once). With `tables` that hold every set of the book (the
    run's), the people's side of the sets is read from them, else from the sets'
    parties. People who hold more than `indexed_share` of the index have every set
    read instead of theirs sorted out."""
    party_set = columns.party_set
    people = None if tables is None else _ranked_people(columns.refs, records)
    if index is not None and tables is not None and people is not None and records is not None:
        # A person coded after the index was built has no entries in it.
        indexed = people[people < len(index.person_ptr) - 1]
        lo, hi = index.person_ptr[indexed], index.person_ptr[indexed + 1]
        if int((hi - lo).sum()) <= indexed_share * len(index.person_position):
            return _reached(columns, parties, index, tables, indexed, lo, hi)
    position = np.flatnonzero(party_set >= 0)
    code = party_set[position].astype(np.int64)
    if tables is None or people is None or len(tables.author) <= len(columns.sets.internal):
        return position, code, _read_sets(columns, parties)
    every = np.arange(len(columns.sets.internal))
    return position, code, _tabled_sets(columns, parties, tables, people, every)


def _ranked_people(refs: Refs, records: Collection[RecordRef] | None) -> Ints:
    """The codes, sorted, of the people ranked (the contacts and leads of `records`, or
    all of them) that the book holds."""
    if records is None:
        codes = [code for code, ref in enumerate(refs.refs) if ref.type in INTRODUCED_TYPES]
    else:
        known = refs.codes
        codes = [known.get(ref, -1) for ref in records if ref.type in INTRODUCED_TYPES]
    people = np.sort(np.array(codes, dtype=np.int64))
    found: Ints = people[people >= 0]
    return found


def _reached(
    columns: InteractionColumns,
    parties: _Parties,
    index: BookIndex,
    tables: SetTables,
    people: Ints,
    lo: Ints,
    hi: Ints,
) -> tuple[Ints, Ints, SetArrays]:
    """_reaching of `people` (codes), whose entries in the index are [lo, hi)."""
    owner, offset = expand(hi - lo)
    # A mark per interaction, no sort: the people share many of theirs.
    reached = np.zeros(len(columns.party_set), dtype=np.bool_)
    reached[index.person_position[lo[owner] + offset]] = True
    del owner, offset
    position = np.flatnonzero(reached)
    which, code = _distinct(columns.party_set[position], len(columns.sets.internal))
    return position, code, _tabled_sets(columns, parties, tables, people, which)


def _distinct(values: Ints, bound: int) -> tuple[Ints, Ints]:
    """(the distinct values, sorted; which of them each value is), for values in
    [0, bound): a mark per value, no sort."""
    seen = np.zeros(bound, dtype=np.bool_)
    seen[values] = True
    place = np.cumsum(seen) - 1
    return np.flatnonzero(seen), place[values]


class SetArrays(NamedTuple):
    """Per distinct party set, who counts for the ranking (scoring.introducers._Parties),
    as arrays by set code: the ranked people (CSR), the colleagues with their role
    weight (CSR), and whether the set holds both."""

    # Codes and places as int32: the contributions are looked up through them.
    person_ptr: Int32s
    person: Int32s
    wrote: Bools  # the person is the email's sender
    attending: Bools  # organised or attends the meeting
    colleague_ptr: Int32s
    user: Int32s  # a code into `users`
    role_weight: Floats
    users: list[str]
    counted: Bools


class _Colleagues(NamedTuple):
    """The colleague side of some party sets (CSR by set)."""

    ptr: Ints
    user: Ints
    role_weight: Floats
    users: list[str]

    @classmethod
    def of(cls, internals: Sequence[tuple[Party, ...]], parties: _Parties) -> _Colleagues:
        """Each set's colleagues who count, with their role weight (_colleague_weights),
        worked out once per roster (a distinct tuple of our parties: a book repeats a
        few hundred of them over its tens of thousands of sets)."""
        internals = list(internals)
        rosters = {internal: code for code, internal in enumerate(dict.fromkeys(internals))}
        roster = np.fromiter(map(rosters.__getitem__, internals), np.int64, len(internals))
        roster_ptr, roster_user, roster_weight = [0], [], []
        user_codes: dict[str, int] = {}
        for internal in rosters:
            for user_id, role_weight in _colleague_weights(internal, parties):
                roster_user.append(user_codes.setdefault(user_id, len(user_codes)))
                roster_weight.append(role_weight)
            roster_ptr.append(len(roster_user))
        # Each set's slice is its roster's.
        starts = np.array(roster_ptr, dtype=np.int64)
        counts = starts[roster + 1] - starts[roster]
        owner, offset = expand(counts)
        at = starts[roster[owner]] + offset
        return cls(
            pointers(counts),
            np.array(roster_user, dtype=np.int64)[at],
            np.array(roster_weight, dtype=np.float64)[at],
            list(user_codes),
        )


def _read_sets(columns: InteractionColumns, parties: _Parties) -> SetArrays:
    """Every set's arrays, by set code, each set's people read from its parties."""
    ours = _Colleagues.of(columns.sets.internal, parties)
    person_ptr, person, wrote, attending = [0], [], [], []
    code = columns.refs.code
    for external in columns.sets.external:
        for party in external:
            if parties.person(party) is not None:
                person.append(code(party.ref))
                wrote.append(party.role is Role.FROM)
                attending.append(party.role is Role.ORGANIZER or party.response in _ATTENDING)
        person_ptr.append(len(person))
    return _set_arrays(
        np.array(person_ptr, dtype=np.int64),
        np.array(person, dtype=np.int64),
        np.array(wrote, dtype=np.bool_),
        np.array(attending, dtype=np.bool_),
        ours,
    )


def _tabled_sets(
    columns: InteractionColumns,
    parties: _Parties,
    tables: SetTables,
    people: Ints,
    which: Ints,
) -> SetArrays:
    """The arrays of the sets `which` (set codes, each holding one of `people`), in
    that order (their codes are places in `which`): the people's side from the
    book's tables (visits.SetTables: every external party, in order, as codes),
    the colleagues' as _read_sets works them out."""
    ranked = np.zeros(len(columns.refs.refs), dtype=np.bool_)
    ranked[people] = True
    start = tables.party_ptr[which]
    owner, offset = expand(tables.party_ptr[which + 1] - start)
    at = start[owner] + offset
    kept = ranked[tables.party_person[at]]
    at = at[kept]
    person_ptr = pointers(np.bincount(owner[kept], minlength=len(which)))
    role = tables.party_role[at]
    attending = (role == ROLE_CODES[Role.ORGANIZER]) | np.isin(
        tables.party_response[at], [RESPONSE_CODES[r] for r in _ATTENDING]
    )
    ours = _Colleagues.of(list(map(columns.sets.internal.__getitem__, which.tolist())), parties)
    return _set_arrays(
        person_ptr, tables.party_person[at], role == ROLE_CODES[Role.FROM], attending, ours
    )


def _set_arrays(
    person_ptr: Ints, person: Ints, wrote: Bools, attending: Bools, ours: _Colleagues
) -> SetArrays:
    counted = (np.diff(person_ptr) > 0) & (np.diff(ours.ptr) > 0)
    return SetArrays(
        person_ptr.astype(np.int32),
        person.astype(np.int32),
        wrote,
        attending,
        ours.ptr.astype(np.int32),
        ours.user.astype(np.int32),
        ours.role_weight,
        ours.users,
        counted,
    )
