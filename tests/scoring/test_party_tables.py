"""The party-set tables, read column by column, against each set read on its own.

party_tables reads every party of a book's sets at once; here each set is read
by the rules written out plainly (scoring.prepared's, per set), with persons
repeated within a set, sets with no colleague or several, and references the
book has not met, so that every branch of the column-wise reading is compared.
"""

from __future__ import annotations

from copy import copy

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from scoring.columnar import columns_of
from scoring.columnar.columns import (
    RESPONSE_CODES,
    ROLE_CODES,
    InteractionColumns,
    Ints,
    PartySets,
    Refs,
)
from scoring.columnar.party_tables import SetTables, extended_tables, set_tables
from scoring.model import Party, RecordRef, RecordType, Response, Role
from scoring.prepared import _author
from tests.scoring.factories import PEOPLE, USERS, property_settings

_ANSWERS = [None, *Response]
PARTIES = st.builds(
    Party, st.sampled_from(PEOPLE), st.sampled_from(list(Role)), st.sampled_from(_ANSWERS)
)
COLLEAGUES = st.builds(
    Party,
    st.sampled_from([RecordRef(RecordType.SYSTEM_USER, user) for user in USERS]),
    st.sampled_from(list(Role)),
    st.sampled_from(_ANSWERS),
)
SETS = st.lists(
    st.tuples(
        st.lists(COLLEAGUES, max_size=3).map(tuple), st.lists(PARTIES, max_size=4).map(tuple)
    ),
    max_size=12,
)


def _columns(
    sets: list[tuple[tuple[Party, ...], tuple[Party, ...]]], known: int
) -> InteractionColumns:
    """A book holding only these party sets, the first `known` people already coded."""
    columns = columns_of([])
    columns.sets, columns.refs = PartySets(), Refs()
    for person in PEOPLE[:known]:
        columns.refs.code(person)
    for internal, external in sets:
        columns.sets.add(internal, external)
    return columns


def _by_set(tables: SetTables, ptr: Ints, values: Ints, code: int) -> list[int]:
    """Set `code`'s entries of a CSR table."""
    entries: list[int] = values[ptr[code] : ptr[code + 1]].tolist()
    return entries


def _check_set(
    tables: SetTables,
    refs: Refs,
    code: int,
    internal: tuple[Party, ...],
    external: tuple[Party, ...],
) -> None:
    persons = [refs.codes[party.ref] for party in external]
    assert _by_set(tables, tables.ext_ptr, tables.ext_person, code) == list(dict.fromkeys(persons))
    assert _by_set(tables, tables.party_ptr, tables.party_person, code) == persons
    assert _by_set(tables, tables.party_ptr, tables.party_role, code) == [
        ROLE_CODES[party.role] for party in external
    ]
    assert _by_set(tables, tables.party_ptr, tables.party_response, code) == [
        RESPONSE_CODES[party.response] for party in external
    ]
    author = _author(external)  # the reference's rule
    assert tables.author[code] == (-1 if author is None else refs.codes[author])
    assert tables.all_declined[code] == (
        bool(external) and all(party.response == Response.DECLINED for party in external)
    )
    ids = sorted({party.ref.id for party in internal})
    assert [
        tables.users[user] for user in _by_set(tables, tables.user_ptr, tables.user, code)
    ] == ids
    assert tables.only_user[code] == (tables.users.index(ids[0]) if len(ids) == 1 else -1)
    if not internal:
        present = 1  # someone of ours logged it
    elif len(internal) == 1:
        present = 0 if internal[0].response == Response.DECLINED else 1
    else:
        present = len({party.ref.id for party in internal if party.response != Response.DECLINED})
    assert tables.present[code] == present


@property_settings
@given(
    SETS, st.integers(min_value=0, max_value=len(PEOPLE)), st.integers(min_value=0, max_value=12)
)
def test_every_set_reads_as_its_parties_say(
    sets: list[tuple[tuple[Party, ...], tuple[Party, ...]]], known: int, split: int
) -> None:
    columns = _columns(sets, known)
    # As a kept book is read: the tables of the sets coded up to `split`, extended with
    # those coded after (one reader codes both: the references are shared).
    earlier = copy(columns)
    earlier.sets = PartySets(columns.sets.internal[:split], columns.sets.external[:split])
    extended = extended_tables(set_tables(earlier), columns)
    tables = set_tables(columns)
    assert tables.users == sorted({party.ref.id for internal, _ in sets for party in internal})
    for code, (internal, external) in enumerate(sets):
        _check_set(tables, columns.refs, code, internal, external)
    # The empty set, last: what an interaction without parties reads.
    assert tables.of(np.array([-1])).tolist() == [len(sets)]
    for name in SetTables.__dataclass_fields__:
        got, want = getattr(extended, name), getattr(tables, name)
        assert np.array_equal(got, want) if isinstance(want, np.ndarray) else got == want, name
