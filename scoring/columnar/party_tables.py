"""What scoring needs from each distinct party set of a book, as arrays by set code.

A million interactions name a few ten thousand distinct party sets
(columns.PartySets); each is decoded here once per book: its external people,
its parties in order with their roles and answers (meetings), its author, our
colleagues on it as codes in id order. A kept book's tables are extended with
the sets coded since (`extended_tables`), not decoded again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter

import numpy as np

from scoring.columnar.by_record import pointers, run_starts
from scoring.columnar.columns import (
    RESPONSE_CODES,
    ROLE_CODES,
    Bools,
    InteractionColumns,
    Ints,
    Refs,
)
from scoring.model import Party, RecordRef, Response, Role

_FROM, _ORGANIZER, _DECLINED = Role.FROM, Role.ORGANIZER, Response.DECLINED


@dataclass
class SetTables:
    """What scoring needs from each distinct party set, as arrays by set code."""

    # External people, each once per set (CSR: ext_ptr[s]:ext_ptr[s + 1]).
    ext_ptr: Ints
    ext_person: Ints
    # External parties in their order, for meetings (CSR: party_ptr).
    party_ptr: Ints
    party_person: Ints
    party_role: Ints  # a code into columns.ROLES
    party_response: Ints  # a code into columns.RESPONSES (0: no answer recorded)
    author: Ints  # the first external FROM or ORGANIZER, -1: none
    # Our colleagues, ids sorted, each once (CSR: user_ptr), as codes in id order.
    user_ptr: Ints
    user: Ints
    users: list[str]  # code -> system user id
    only_user: Ints  # the one colleague on the set, -1: none or several
    present: Ints  # colleagues present at a meeting or call (scoring.prepared._time_spent)
    all_declined: Bools  # every external party declined

    def of(self, codes: Ints) -> Ints:
        """Set codes with -1 (no parties) read as the empty set kept last."""
        last = len(self.author) - 1
        found: Ints = np.where(codes >= 0, codes, last)
        return found


def set_tables(columns: InteractionColumns) -> SetTables:
    sets = columns.sets
    ids = sorted({party.ref.id for internal in sets.internal for party in internal})
    # The empty set, last: what an interaction without parties reads (SetTables.of).
    rows = _SetRows([*sets.internal, ()], [*sets.external, ()], columns.refs, ids)
    return rows.tables(ids)


def extended_tables(tables: SetTables, columns: InteractionColumns) -> SetTables:
    """The tables of `columns`' party sets when `tables` holds those of the sets coded
    before (codes only grow): the new sets decoded, the empty set put last again, and
    the colleagues' codes moved when a new colleague sorts among them. The same arrays
    as set_tables(columns)."""
    sets = columns.sets
    known = len(tables.author) - 1
    if known == len(sets.internal):
        return tables
    internal, external = sets.internal[known:], sets.external[known:]
    ids = sorted({*tables.users, *(party.ref.id for parties in internal for party in parties)})
    user = tables.user
    if tables.users and ids != tables.users:
        # Sorted ids stay in their order: each set's colleagues stay sorted.
        user = np.searchsorted(np.array(ids), np.array(tables.users))[user]
    added = _SetRows([*internal, ()], [*external, ()], columns.refs, ids)

    def joined(ptr: Ints, values: Ints, more_ptr: Ints, more: Ints) -> tuple[Ints, Ints]:
        end = ptr[known]  # the empty set, last, holds nothing
        return (
            np.concatenate([ptr[: known + 1], more_ptr[1:] + end]),
            np.concatenate([values[:end], more]),
        )

    ext_ptr, ext_person = joined(tables.ext_ptr, tables.ext_person, added.ext_ptr, added.ext_person)
    party_ptr, party_person = joined(
        tables.party_ptr, tables.party_person, added.party_ptr, added.party_person
    )
    user_ptr, user = joined(tables.user_ptr, user, added.user_ptr, added.user)
    end = tables.party_ptr[known]

    def per_set(values: Ints, more: Ints) -> Ints:
        return np.concatenate([values[:known], more])

    return SetTables(
        ext_ptr,
        ext_person,
        party_ptr,
        party_person,
        np.concatenate([tables.party_role[:end], added.party_role]),
        np.concatenate([tables.party_response[:end], added.party_response]),
        per_set(tables.author, added.author),
        user_ptr,
        user,
        ids,
        _only_user(user_ptr, user),
        per_set(tables.present, added.present),
        np.concatenate([tables.all_declined[:known], added.all_declined]),
    )


class _SetRows:
    """What each of some party sets reads as (set_tables' arrays but the colleagues'
    `only_user`); `ids`: every colleague's id, sorted (a colleague's code is its place).

    Each party is read once, column by column (its person's code, role and answer
    through C-level maps), and what a set reads as is then worked out over all the
    sets' parties at once."""

    def __init__(
        self,
        internals: Sequence[tuple[Party, ...]],
        externals: Sequence[tuple[Party, ...]],
        refs: Refs,
        ids: list[str],
    ) -> None:
        self._external(externals, refs)
        self._internal(internals, ids)

    def _external(self, externals: Sequence[tuple[Party, ...]], refs: Refs) -> None:
        sets = len(externals)
        counts = np.fromiter(map(len, externals), np.int64, sets)
        parties = list(chain.from_iterable(externals))
        owner = np.repeat(np.arange(sets, dtype=np.int64), counts)
        person = _person_codes(list(map(_REF, parties)), refs)
        role = _ints(list(map(ROLE_CODES.__getitem__, map(_ROLE, parties))))
        response = _ints(list(map(RESPONSE_CODES.__getitem__, map(_RESPONSE, parties))))
        # The first party who wrote it or organised it.
        writes = np.flatnonzero((role == ROLE_CODES[_FROM]) | (role == ROLE_CODES[_ORGANIZER]))
        self.author = np.full(sets, -1, dtype=np.int64)
        self.author[owner[writes[::-1]]] = person[writes[::-1]]  # the first write stays
        answered = np.bincount(owner[response != RESPONSE_CODES[_DECLINED]], minlength=sets)
        self.all_declined = (counts > 0) & (answered == 0)
        self.party_ptr = pointers(counts)
        self.party_person, self.party_role, self.party_response = person, role, response
        # Each person once per set, where they first appear.
        first = _firsts_in_sets(owner, person, counts)
        self.ext_person = person[first]
        self.ext_ptr = pointers(np.bincount(owner[first], minlength=sets))

    def _internal(self, internals: Sequence[tuple[Party, ...]], ids: list[str]) -> None:
        user_codes = {user: index for index, user in enumerate(ids)}
        sets = len(internals)
        counts = np.fromiter(map(len, internals), np.int64, sets)
        # Most sets have one colleague: read by column; the others one by one.
        single = np.flatnonzero(counts == 1)
        alone = [internals[k][0] for k in single.tolist()]
        present = np.ones(sets, dtype=np.int64)  # a set without colleagues: someone logged it
        responses = _ints(list(map(RESPONSE_CODES.__getitem__, map(_RESPONSE, alone))))
        present[single] = responses != RESPONSE_CODES[_DECLINED]
        several: dict[int, list[int]] = {}
        for k in np.flatnonzero(counts > 1).tolist():
            internal = internals[k]
            several[k] = [user_codes[c] for c in sorted({party.ref.id for party in internal})]
            present[k] = len({p.ref.id for p in internal if p.response != _DECLINED})
        users = counts.copy()
        for k, codes in several.items():
            users[k] = len(codes)
        self.user_ptr = pointers(users)
        self.user = np.empty(int(self.user_ptr[-1]), dtype=np.int64)
        self.user[self.user_ptr[single]] = list(map(user_codes.__getitem__, map(_ID, alone)))
        for k, codes in several.items():
            self.user[self.user_ptr[k] : self.user_ptr[k + 1]] = codes
        self.present = present

    def tables(self, ids: list[str]) -> SetTables:
        return SetTables(
            self.ext_ptr,
            self.ext_person,
            self.party_ptr,
            self.party_person,
            self.party_role,
            self.party_response,
            self.author,
            self.user_ptr,
            self.user,
            ids,
            _only_user(self.user_ptr, self.user),
            self.present,
            self.all_declined,
        )


_REF, _ROLE, _RESPONSE, _ID = (
    attrgetter("ref"),
    attrgetter("role"),
    attrgetter("response"),
    attrgetter("ref.id"),
)


def _person_codes(party_refs: list[RecordRef], refs: Refs) -> Ints:
    """The parties' codes, a reference the book has not met coded anew, in order."""
    codes: list[int | None] = list(map(refs.codes.get, party_refs))
    for at, found in enumerate(codes):
        if found is None:
            codes[at] = refs.code(party_refs[at])
    return np.array(codes, dtype=np.int64)


def _firsts_in_sets(owner: Ints, person: Ints, counts: Ints) -> Bools:
    """Where each person first appears in their set (`owner`)."""
    first = np.ones(len(person), dtype=np.bool_)
    if not len(person) or counts.max() <= 1:
        return first
    key = owner * (int(person.max()) + 1) + person
    order = np.argsort(key, kind="stable")  # a set's equal persons in their order
    first[order] = run_starts(key[order])
    return first


def _ints(values: list[int]) -> Ints:
    return np.array(values, dtype=np.int64)


def _only_user(user_ptr: Ints, user: Ints) -> Ints:
    alone = np.diff(user_ptr) == 1
    only: Ints = np.full(len(user_ptr) - 1, -1, dtype=np.int64)
    only[alone] = user[user_ptr[:-1][alone]]
    return only
