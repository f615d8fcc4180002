"""Each scope of a run as codes, worked out once: its record, its people, its team.

A run reads a scope's people three times: to cut the scopes into groups (how
many visits each will read), to find the persons a group's deals and accounts
roll up, and to find each record's visits (visits.py). Coding them is a dict
lookup per person, so it is done once per run, here, and every step after reads
slices of the same arrays. A group is a run of consecutive scopes, so its codes
are the slice [start, end) of the run's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from scoring.columnar.columns import Bools, Ints, Refs
from scoring.columnar.visits import BookIndex, GroupCodes, SetTables
from scoring.model import RecordRef, RecordScope, RecordType


@dataclass
class ScopeCodes:
    """Scopes as codes (arrays by scope; people and teams in CSR form)."""

    record: Ints  # the scope's record (a code into refs)
    people_ptr: Ints  # the scope's people are people[people_ptr[k]:people_ptr[k + 1]]
    people: Ints
    team_ptr: Ints  # its colleagues the book knows (codes into SetTables.users)
    team: Ints
    has_team: Bools
    rolled_up: Bools  # a deal or an account: it rolls its people up
    # A contact's or lead's own scope: no team and its only person is its record
    # (what a person of a roll-up is read as, when the group holds it).
    own: Bools

    def __len__(self) -> int:
        return len(self.record)


def scope_codes(scopes: Sequence[RecordScope], refs: Refs, tables: SetTables) -> ScopeCodes:
    """The scopes' codes; a record or person the book never met is given a new code
    (it reaches no interaction)."""
    known = refs.codes.get
    user_codes = {user: number for number, user in enumerate(tables.users)}.get
    record, people, people_ptr = [], list[int](), [0]
    team, team_ptr, has_team, rolled_up = list[int](), [0], [], []
    for scope in scopes:
        record.append(known(scope.record, -1))
        people += map(known, scope.people, repeat(-1))
        people_ptr.append(len(people))
        if scope.team is not None:
            team += [found for user in scope.team if (found := user_codes(user)) is not None]
        team_ptr.append(len(team))
        has_team.append(scope.team is not None)
        rolled_up.append(scope.record.type in _ROLLED_UP)
    codes = ScopeCodes(
        _ints(record),
        _ints(people_ptr),
        _ints(people),
        _ints(team_ptr),
        _ints(team),
        np.array(has_team, dtype=np.bool_),
        np.array(rolled_up, dtype=np.bool_),
        np.zeros(len(record), dtype=np.bool_),
    )
    _code_the_unknown(codes, scopes, refs)
    alone = (np.diff(codes.people_ptr) == 1) & ~codes.has_team
    codes.own[alone] = codes.people[codes.people_ptr[:-1][alone]] == codes.record[alone]
    return codes


# What scoring.rollup.is_rolled_up reads as a roll-up (a deal, an account).
_ROLLED_UP = frozenset({RecordType.OPPORTUNITY, RecordType.ACCOUNT})


def _code_the_unknown(codes: ScopeCodes, scopes: Sequence[RecordScope], refs: Refs) -> None:
    """Codes for the records and people the book never met (-1 so far), found again by
    where they sit: most records the book never met are deals and accounts
    nothing regards."""
    for number in np.flatnonzero(codes.record < 0).tolist():
        codes.record[number] = refs.code(scopes[number].record)
    unknown = np.flatnonzero(codes.people < 0)
    owners = np.searchsorted(codes.people_ptr, unknown, side="right") - 1
    for owner in np.unique(owners).tolist():
        start = int(codes.people_ptr[owner])
        for at, person in enumerate(scopes[owner].people, start):  # the order mapped in
            if codes.people[at] < 0:
                codes.people[at] = refs.code(person)


def _ints(values: list[int]) -> Ints:
    return np.array(values, dtype=np.int64)


def cut_groups(codes: ScopeCodes, index: BookIndex, group_visits: int) -> Iterator[tuple[int, int]]:
    """[start, end) of consecutive scopes, cut where the visits they will read pass
    `group_visits` (counted from the book's index: a deal's or account's people
    count once more, as the group reads them as persons when their contacts are
    elsewhere). No scopes: one empty group."""
    through_people = np.concatenate([[0], np.cumsum(_counts_of(index.person_ptr, codes.people))])
    reach = through_people[codes.people_ptr[1:]] - through_people[codes.people_ptr[:-1]]
    reach = reach * np.where(codes.rolled_up, 2, 1) + _counts_of(index.regarding_ptr, codes.record)
    start, visits = 0, 0
    for end, visit_count in enumerate(reach.tolist()):
        if end > start and visits + visit_count > group_visits:
            yield start, end
            start, visits = end, 0
        visits += visit_count
    yield start, len(codes)


def _counts_of(ptr: Ints, codes: Ints) -> Ints:
    """How many entries the index holds for each code (none for a code coded after it)."""
    last = len(ptr) - 1
    counts: Ints = ptr[np.minimum(codes + 1, last)] - ptr[np.minimum(codes, last)]
    return counts


def group_codes(codes: ScopeCodes, start: int, end: int, refs: list[RecordRef]) -> GroupCodes:
    """The codes of the group of scopes [start, end) and of the persons it adds."""
    scopes = end - start
    lo, hi = int(codes.people_ptr[start]), int(codes.people_ptr[end])
    counts = np.diff(codes.people_ptr[start : end + 1])
    member_record = np.repeat(np.arange(scopes, dtype=np.int64), counts)
    member_person = codes.people[lo:hi]
    # The persons rolled up, each once, and the group's own scope of each, if any
    # (the first one, as the reference reads the first scope of a person).
    rolled = codes.rolled_up[start:end]
    persons = np.unique(member_person[rolled[member_record]])
    own = np.flatnonzero(codes.own[start:end])
    own_person, first = np.unique(codes.record[start:end][own], return_index=True)
    held = np.isin(persons, own_person)
    added = persons[~held]
    at = np.empty(len(persons), dtype=np.int64)
    at[held] = own[first[np.searchsorted(own_person, persons[held])]]
    at[~held] = scopes + np.arange(len(added))
    team_lo, team_hi = int(codes.team_ptr[start]), int(codes.team_ptr[end])
    team_counts = np.diff(codes.team_ptr[start : end + 1])
    return GroupCodes(
        record=np.concatenate([codes.record[start:end], added]),
        member_record=np.concatenate([member_record, scopes + np.arange(len(added))]),
        member_person=np.concatenate([member_person, added]),
        team_record=np.repeat(np.arange(scopes, dtype=np.int64), team_counts),
        team_user=codes.team[team_lo:team_hi],
        has_team=np.concatenate([codes.has_team[start:end], np.zeros(len(added), np.bool_)]),
        rolled_up=rolled.tolist(),
        people=dict(zip([refs[code] for code in persons.tolist()], at.tolist(), strict=True)),
        scopes=scopes,
    )
