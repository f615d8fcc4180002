"""The CRM's activity and activity-party rows as plain named tuples, read in bulk.

The CRM-data path reads every activity on every run (to see which changed:
storage.crm_digests); through SQLAlchemy's Row objects that read cost more
than the rest of a tick with nothing new. These come from the driver's
cursor and carry the table's columns in the table's order (the parties of a
tick's few thousand changed activities are read by key through SQLAlchemy
Core, interaction_store.keyed_rows). An activity whose timestamps cannot be
read is handed back apart (storage.raw_rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

from sqlmodel import Session

from storage.crm_tables import CrmActivityParty
from storage.engine import is_postgres
from storage.interaction_store import key_chunks, keyed_rows
from storage.raw_rows import Unreadable, named_rows, raw_rows
from storage.types import core_table


class ActivityRow(NamedTuple):
    """A `crm_activity` row (storage.crm_tables.CrmActivity), columns in table order."""

    id: str
    kind: str
    owner_id: str | None
    direction: str | None
    status: str
    start_at: datetime | None
    end_at: datetime | None
    regarding_type: str | None
    regarding_id: str | None
    conversation_id: str | None
    internet_message_id: str | None
    opens: int
    clicks: int
    modified_at: datetime | None


class ActivityPartyRow(NamedTuple):
    """A `crm_activity_party` row (storage.crm_tables.CrmActivityParty), in table order."""

    id: int
    activity_id: str
    role: str
    address: str | None
    record_type: str | None
    record_id: str | None
    response: str | None


ACTIVITY_TIMES = ("start_at", "end_at", "modified_at")


# Activity ids written into one statement of a keyed read (string literals, not bound
# parameters): SQLite; PostgreSQL as one array, a 1 % tick's 10,000 at 1M at once.
IDS_PER_QUERY = 5000
IDS_PER_ARRAY = 10_000
PARTY = core_table(CrmActivityParty)


def iter_activities(
    *, session: Session, unreadable: list[Unreadable], where: str = ""
) -> Iterator[ActivityRow]:
    """Every activity (or those `where`, SQL over its columns), by id, streamed; one with
    an unreadable timestamp goes to `unreadable`."""
    return named_rows(
        session,
        ActivityRow,
        "crm_activity",
        times=ACTIVITY_TIMES,
        unreadable=unreadable,
        where=where,
    )


def activities_by_id(
    *, session: Session, ids: Iterable[str], unreadable: list[Unreadable]
) -> Iterator[ActivityRow]:
    """The activities of `ids` that exist, in batches of ids taken in sorted order."""
    ordered = sorted(set(ids))
    # PostgreSQL: the ids as an array the planner sees the size of, so it looks each up
    # by the key (an IN list of 5,000 made it scan a million activities, twice at 1 %);
    # a 1 % tick's 10,000 in one statement.
    postgres = is_postgres(session)
    listed = "SELECT unnest(ARRAY[{}]::text[])" if postgres else "{}"
    size = IDS_PER_ARRAY if postgres else IDS_PER_QUERY
    for start in range(0, len(ordered), size):
        batch = ordered[start : start + size]
        where = f"id IN ({listed.format(sql_strings(batch))})"
        yield from iter_activities(session=session, unreadable=unreadable, where=where)


def sql_strings(values: Iterable[str]) -> str:
    """String literals for an IN list: the ids are the CRM's, quoted, never trusted."""
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def parties_by_activity(
    *, session: Session, ids: Iterable[str] | None = None
) -> dict[str, list[ActivityPartyRow]]:
    """Every activity party (or those of the activity ids `ids`), grouped by activity id.

    Held for the whole pass, a million activities' worth: the few distinct
    roles, record types and responses, and each activity's id, are shared
    objects instead of a fresh string per row (about a third of the memory).
    """
    if ids is None:
        query = f"SELECT {', '.join(ActivityPartyRow._fields)} FROM crm_activity_party"
        return _grouped(raw_rows(session, query))
    # One index probe per activity id on PostgreSQL (keyed_rows): an IN list of 5,000
    # ids was planned as a scan of every party row, twice at 1 % of 1M.
    columns = [PARTY.c[name] for name in ActivityPartyRow._fields]
    parties: dict[str, list[ActivityPartyRow]] = {}
    for batch in key_chunks(is_postgres(session), sorted(set(ids))):
        rows = session.execute(keyed_rows(session, columns, PARTY.c.activity_id, batch))
        parties.update(_grouped(rows.all()))
    return parties


def _grouped(rows: Iterable[tuple[Any, ...]]) -> dict[str, list[ActivityPartyRow]]:
    parties: dict[str, list[ActivityPartyRow]] = {}
    words: dict[str | None, str | None] = {None: None}
    new = tuple.__new__
    for party_id, activity_id, role, address, record_type, record_id, response in rows:
        found = parties.get(activity_id)
        if found is None:
            found = parties[activity_id] = []
        else:
            activity_id = found[0][1]  # the id object the first party already holds
        role = words.setdefault(role, role)
        record_type = words.setdefault(record_type, record_type)
        response = words.setdefault(response, response)
        found.append(
            new(
                ActivityPartyRow,
                (
                    party_id,
                    activity_id,
                    role,
                    address,
                    record_type,
                    record_id,
                    response,
                ),
            )
        )
    return parties
