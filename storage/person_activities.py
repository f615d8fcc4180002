"""The CRM activities whose interaction a contact or lead row written may move.

An activity is derived against whom its parties match in the directory
(storage.directory): by reference (a party naming a record) or by address
(the first record to claim an address has it). A contact or lead inserted or
updated moves only the matches that name it or one of the addresses it
carried or carries (a shared address included: which record claims it may
move too). So the activities to derive again, as a full pass would
(storage.crm_digests), are those with a party naming one of those people
or addresses; reading them by that (migration 0014's log) replaces reading
every activity.

Addresses compare as the directory normalises them (Python's strip and
lower). SQL's trim and lower agree with those on plain ASCII only (as in
storage.crm_bulk_ingest), so every party whose address is not plain ASCII is
a candidate too, and each candidate is checked here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.directory import normalise_address
from storage.engine import is_postgres
from storage.interaction_store import chunks
from storage.tick_changes import PersonChanges, Ref

# What Python's str.strip() strips from plain ASCII text.
ASCII_SPACES = "".join(character for character in map(chr, range(128)) if character.isspace())
POSTGRES_CANDIDATES = sa.text(
    "SELECT activity_id, address, record_type, record_id FROM crm_activity_party"
    " WHERE record_id = ANY(CAST(:ids AS text[]))"
    ' OR lower(btrim(address, :spaces) COLLATE "C") = ANY(CAST(:addresses AS text[]))'
    " OR octet_length(address) <> length(address)"
)
SQLITE_CANDIDATES = sa.text(
    "SELECT activity_id, address, record_type, record_id FROM crm_activity_party"
    " WHERE record_id IN :ids OR lower(trim(address, :spaces)) IN :addresses"
    " OR length(CAST(address AS BLOB)) <> length(address)"
).bindparams(sa.bindparam("ids", expanding=True), sa.bindparam("addresses", expanding=True))
SQLITE_LIST = 400  # ids and addresses each per statement (SQLite's parameter limit)


def activities_naming(session: Session, changes: PersonChanges) -> set[str]:
    """Ids of the activities with a party that names one of the changed people, by
    reference or by an address one of them carried or carries."""
    people, addresses = changes.people, changes.addresses
    if not people:
        return set()
    return {
        activity_id
        for activity_id, address, record_type, record_id in _candidates(session, people, addresses)
        if (record_type, record_id) in people
        or (isinstance(address, str) and normalise_address(address) in addresses)
    }


def _candidates(session: Session, people: set[Ref], addresses: set[str]) -> Iterator[Any]:
    """Party rows that may name them: a superset, each read once or more."""
    ids = sorted({record_id for _kind, record_id in people})
    wanted = sorted(addresses)
    if is_postgres(session):
        params = {"ids": ids, "addresses": wanted, "spaces": ASCII_SPACES}
        yield from session.execute(POSTGRES_CANDIDATES, params)
        return
    # SQLite holds trial books: a statement per few hundred of each is plenty.
    for id_batch in chunks(ids or [""], SQLITE_LIST):
        for address_batch in chunks(wanted or [""], SQLITE_LIST):
            params = {"ids": id_batch, "addresses": address_batch, "spaces": ASCII_SPACES}
            yield from session.execute(SQLITE_CANDIDATES, params)
