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

import numpy as np

from scoring.columnar.columns import Bools, InteractionColumns, Ints, Refs
from scoring.model import Party, Response, Role

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

    def joined(ptr: Ints, values: Ints, more_ptr: list[int], more: list[int]) -> tuple[Ints, Ints]:
        end = ptr[known]  # the empty set, last, holds nothing
        return (
            np.concatenate([ptr[: known + 1], _ints(more_ptr[1:]) + end]),
            np.concatenate([values[:end], _ints(more)]),
        )

    ext_ptr, ext_person = joined(tables.ext_ptr, tables.ext_person, added.ext_ptr, added.ext_person)
    party_ptr, party_person = joined(
        tables.party_ptr, tables.party_person, added.party_ptr, added.party_person
    )
    user_ptr, user = joined(tables.user_ptr, user, added.user_ptr, added.user)
    end = tables.party_ptr[known]

    def per_set(values: Ints, more: list[int]) -> Ints:
        return np.concatenate([values[:known], _ints(more)])

    return SetTables(
        ext_ptr,
        ext_person,
        party_ptr,
        party_person,
        np.concatenate([tables.party_role[:end], _ints(added.party_role)]),
        np.concatenate([tables.party_response[:end], _ints(added.party_response)]),
        per_set(tables.author, added.author),
        user_ptr,
        user,
        ids,
        _only_user(user_ptr, user),
        per_set(tables.present, added.present),
        np.concatenate([tables.all_declined[:known], np.array(added.all_declined, np.bool_)]),
    )


class _SetRows:
    """What each of some party sets reads as, in lists (set_tables' arrays, not yet
    arrays); `ids`: every colleague's id, sorted (a colleague's code is its place)."""

    def __init__(
        self,
        internals: Sequence[tuple[Party, ...]],
        externals: Sequence[tuple[Party, ...]],
        refs: Refs,
        ids: list[str],
    ) -> None:
        from scoring.columnar.columns import RESPONSE_CODES, ROLE_CODES

        user_codes = {user: index for index, user in enumerate(ids)}
        # What each distinct party reads as, worked out once: the book's party sets
        # repeat the same people in different company.
        party_codes: dict[Party, tuple[int, int, int, bool]] = {}
        ext_ptr, ext_person = [0], list[int]()
        party_ptr, party_person, party_role, party_response = [0], [], [], []
        author, user_ptr, user, present, all_declined = [], [0], [], [], []
        for internal, external in zip(internals, externals, strict=True):
            writer = -1
            declined = bool(external)
            people = []
            for party in external:
                found = party_codes.get(party)
                if found is None:
                    found = party_codes[party] = (
                        refs.code(party.ref),
                        ROLE_CODES[party.role],
                        RESPONSE_CODES[party.response],
                        party.role == _FROM or party.role == _ORGANIZER,
                    )
                person, role, response, writes = found
                people.append(person)
                party_person.append(person)
                party_role.append(role)
                party_response.append(response)
                if writer < 0 and writes:
                    writer = person
                declined = declined and party.response == _DECLINED
            ext_person += people if len(people) == 1 else dict.fromkeys(people)
            ext_ptr.append(len(ext_person))
            party_ptr.append(len(party_person))
            author.append(writer)
            if len(internal) == 1:
                user.append(user_codes[internal[0].ref.id])
                present.append(0 if internal[0].response == _DECLINED else 1)
            else:
                user += [user_codes[c] for c in sorted({party.ref.id for party in internal})]
                if internal:
                    present.append(len({p.ref.id for p in internal if p.response != _DECLINED}))
                else:
                    present.append(1)  # someone of ours logged it
            user_ptr.append(len(user))
            all_declined.append(declined)
        self.ext_ptr, self.ext_person = ext_ptr, ext_person
        self.party_ptr, self.party_person = party_ptr, party_person
        self.party_role, self.party_response = party_role, party_response
        self.author, self.user_ptr, self.user = author, user_ptr, user
        self.present, self.all_declined = present, all_declined

    def tables(self, ids: list[str]) -> SetTables:
        user_ptr, user = _ints(self.user_ptr), _ints(self.user)
        return SetTables(
            _ints(self.ext_ptr),
            _ints(self.ext_person),
            _ints(self.party_ptr),
            _ints(self.party_person),
            _ints(self.party_role),
            _ints(self.party_response),
            _ints(self.author),
            user_ptr,
            user,
            ids,
            _only_user(user_ptr, user),
            _ints(self.present),
            np.array(self.all_declined, dtype=np.bool_),
        )


def _ints(values: list[int]) -> Ints:
    return np.array(values, dtype=np.int64)


def _only_user(user_ptr: Ints, user: Ints) -> Ints:
    alone = np.diff(user_ptr) == 1
    only: Ints = np.full(len(user_ptr) - 1, -1, dtype=np.int64)
    only[alone] = user[user_ptr[:-1][alone]]
    return only
