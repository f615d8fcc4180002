"""Committing Exchange delta pages: rows, sightings and the cursor in one transaction.

A page is the unit of progress. Its interactions, the per-mailbox sightings
that tie Graph item ids to them, the removals it announced and the cursor
that follows it are written together, so a crash between pages resumes from
the last committed cursor and ends in exactly the rows of a clean run.

A backfill commits thousands of pages, so each costs a fixed handful of
statements whatever its size: key lists travel as one array parameter on
PostgreSQL (one prepared statement, not one per list length), sightings are
upserted in bulk, and nothing is read that the page cannot have changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.copies import CopyOrigin, cancel_withdrawn, copy_origin
from storage.engine import session_scope
from storage.interaction_locks import lock_interaction_keys
from storage.interaction_store import (
    INTERACTION,
    PARTY,
    InteractionRecord,
    PartyRow,
    chunks,
    delete_interactions,
    insert_interactions,
)
from storage.sync_tables import InteractionSighting, SyncCursor
from storage.types import core_table

SIGHTING = core_table(InteractionSighting)
CURSOR = core_table(SyncCursor)
ROW_FIELDS = tuple(INTERACTION.c.keys())
SIGHTING_COLUMNS = ("mailbox_id", "item_id", "interaction_key", "folder_id", "round")
ON_CONFLICT = (
    " ON CONFLICT (mailbox_id, item_id) DO UPDATE SET interaction_key = excluded.interaction_key,"
    " folder_id = excluded.folder_id, round = excluded.round"
)
UPSERT_SIGHTINGS = sa.text(
    f"INSERT INTO interaction_sighting ({', '.join(SIGHTING_COLUMNS)})"
    " SELECT :mailbox, item_id, interaction_key, :folder, :round"
    " FROM unnest(CAST(:items AS varchar[]), CAST(:keys AS varchar[]))"
    f" AS page(item_id, interaction_key){ON_CONFLICT}"
)


@dataclass(frozen=True, slots=True)
class Cursor:
    mailbox_id: str
    folder_id: str
    kind: str
    next_link: str | None
    delta_link: str | None
    baseline_complete: bool
    round: int
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class PageWrite:
    """One decoded page of one folder, ready to commit."""

    mailbox_id: str
    folder_id: str
    kind: str
    round: int
    seen: Sequence[tuple[str, InteractionRecord]]  # (Graph item id, interaction)
    gone: Sequence[str]  # item ids removed, cancelled, or no longer about a CRM customer
    next_link: str | None
    delta_link: str | None
    at: datetime


@dataclass
class PageCounts:
    added: int = 0
    updated: int = 0
    removed: int = 0


def load_cursors(*, session: Session, mailbox_id: str) -> dict[str, Cursor]:
    rows = session.execute(sa.select(CURSOR).where(CURSOR.c.mailbox_id == mailbox_id))
    return {
        row.folder_id: Cursor(
            row.mailbox_id, row.folder_id, row.kind, row.next_link, row.delta_link,
            bool(row.baseline_complete), row.round, row.updated_at,
        )
        for row in rows
    }  # fmt: skip


def start_rebaseline(engine: Engine, *, mailbox_id: str, folder_id: str, kind: str) -> int:
    """Forget the folder's links and open a new round; returns the new round number."""
    with session_scope(engine) as session:
        where = (CURSOR.c.mailbox_id == mailbox_id) & (CURSOR.c.folder_id == folder_id)
        current = session.execute(sa.select(CURSOR.c.round).where(where)).scalar()
        new_round = (current or 0) + 1
        if current is None:
            session.execute(
                sa.insert(CURSOR).values(
                    mailbox_id=mailbox_id, folder_id=folder_id, kind=kind, round=new_round,
                    rebaselines=1, baseline_complete=False,
                )
            )  # fmt: skip
        else:
            session.execute(
                sa.update(CURSOR).where(where).values(
                    next_link=None, delta_link=None, baseline_complete=False, round=new_round,
                    rebaselines=CURSOR.c.rebaselines + 1,
                )
            )  # fmt: skip
    return new_round


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def among(session: Session, column: Any, values: Sequence[str]) -> Any:
    """`column IN values`: one array parameter on PostgreSQL, an IN list on SQLite.

    On PostgreSQL the array is joined (`column = wanted.value`, FROM
    unnest(:array)): the planner probes the index per key or hashes the keys,
    whatever the table's statistics say, where `= ANY(:array)` in a generic plan
    may compare every row with every key.
    """
    if _postgres(session):
        wanted = sa.func.unnest(_array(values)).table_valued("value")
        return column == wanted.render_derived(name="wanted").c.value
    return column.in_(values)


def _array(values: Sequence[str]) -> Any:
    return sa.literal(list(values), postgresql.ARRAY(sa.String()))


# --- interactions ---------------------------------------------------------------------------


def _existing_rows(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for batch in chunks(keys):
        query = sa.select(INTERACTION).where(among(session, INTERACTION.c.key, batch))
        rows.update((row.key, row._asdict()) for row in session.execute(query))
    return rows


def _stored_parties(session: Session, keys: Sequence[str]) -> dict[str, set[PartyRow]]:
    parties: dict[str, set[PartyRow]] = {}
    for batch in chunks(keys):
        query = sa.select(
            PARTY.c.interaction_key, PARTY.c.record_type, PARTY.c.record_id,
            PARTY.c.role, PARTY.c.side, PARTY.c.response,
        ).where(among(session, PARTY.c.interaction_key, batch))  # fmt: skip
        for key, *party in session.execute(query):
            parties.setdefault(key, set()).add(PartyRow(*party))
    return parties


def _upsert_interactions(
    session: Session, page: PageWrite, records: dict[str, InteractionRecord], counts: PageCounts
) -> CopyOrigin:
    # A stored CRM row with the same key is the same email logged in the CRM: the
    # Exchange copy replaces it, so it counts once.
    existing = _existing_rows(session, list(records))
    exchange_keys = [key for key, row in existing.items() if row["source"] == "exchange"]
    stored = _stored_parties(session, exchange_keys) if exchange_keys else {}
    origin = copy_origin(session, page.mailbox_id, page.kind, exchange_keys)
    replace: list[InteractionRecord] = []
    for key, record in records.items():
        row = existing.get(key)
        if row is not None and row["source"] == "exchange":
            before = frozenset(stored.get(key, ()))
            record = origin.combine(record, row, before)
            if record.parties == before and record.row() == {f: row[f] for f in ROW_FIELDS}:
                continue  # seen before, nothing new: leave the row alone
        replace.append(record)
    changed = [record.key for record in replace if record.key in existing]
    counts.updated += len(changed)
    counts.added += len(replace) - len(changed)
    if changed:
        delete_interactions(session=session, keys=changed)
    insert_interactions(session=session, records=replace)
    return origin


# --- sightings ------------------------------------------------------------------------------


# The sightings of removed items, one primary-key probe per item id. A join or
# `item_id = ANY(...)` leaves PostgreSQL to estimate the mailbox's share of the
# table; during a backfill (a table growing faster than autovacuum analyzes it)
# it guesses a dozen rows and its generic plan compares every sighting of the
# mailbox with every id, a cost that grows with each page. A scalar subquery
# per id is never flattened into a join: it stays a unique-index lookup.
DELETE_GONE_SIGHTINGS = sa.text(
    "DELETE FROM interaction_sighting WHERE ctid = ANY(ARRAY("
    " SELECT (SELECT ctid FROM interaction_sighting"
    "  WHERE mailbox_id = :mailbox AND item_id = gone.item_id AND folder_id = :folder)"
    " FROM unnest(CAST(:items AS varchar[])) AS gone(item_id)"
    ")) RETURNING interaction_key"
)


def _gone_here(session: Session, page: PageWrite, item_ids: Sequence[str]) -> Any:
    # A removal names the item in this folder: one moved (same id) into a folder synced
    # first already has its new sighting, which must stay.
    if _postgres(session):
        parameters = {"items": list(item_ids), "mailbox": page.mailbox_id, "folder": page.folder_id}
        return DELETE_GONE_SIGHTINGS.bindparams(**parameters)
    return (
        sa.delete(SIGHTING)
        .where(
            (SIGHTING.c.mailbox_id == page.mailbox_id)
            & (SIGHTING.c.folder_id == page.folder_id)
            & SIGHTING.c.item_id.in_(item_ids)
        )
        .returning(SIGHTING.c.interaction_key)
    )


def _drop_gone(session: Session, page: PageWrite) -> set[str]:
    """Delete the sightings of this page's removed items; the interactions they named.

    Before the key locks: these rows are this folder's own, and an orphan check
    made under the lock sees every other mailbox's committed sightings.
    """
    keys: set[str] = set()
    for batch in chunks(page.gone):
        keys.update(session.scalars(_gone_here(session, page, batch)))
    return keys


def _upsert_sightings(session: Session, page: PageWrite) -> None:
    mine = {item_id: record.key for item_id, record in page.seen}
    if not mine:
        return
    if _postgres(session):  # one statement: the page's ids and keys as two arrays
        session.execute(UPSERT_SIGHTINGS, {
            "mailbox": page.mailbox_id, "folder": page.folder_id, "round": page.round,
            "items": list(mine), "keys": list(mine.values())})  # fmt: skip
        return
    columns = ", ".join(SIGHTING_COLUMNS)
    session.connection().exec_driver_sql(
        f"INSERT INTO interaction_sighting ({columns}) VALUES (?, ?, ?, ?, ?){ON_CONFLICT}",
        [(page.mailbox_id, item, key, page.folder_id, page.round) for item, key in mine.items()],
    )


def delete_orphans(session: Session, keys: Iterable[str]) -> int:
    """Exchange interactions that no mailbox sees any more."""
    keys = list(keys)
    if not keys:
        return 0
    lock_interaction_keys(session, keys)
    orphans: list[str] = []
    for batch in chunks(keys):
        seen = sa.select(SIGHTING.c.interaction_key).where(SIGHTING.c.interaction_key.in_(batch))
        query = sa.select(INTERACTION.c.key).where(
            INTERACTION.c.key.in_(batch),
            INTERACTION.c.source == "exchange",
            INTERACTION.c.key.not_in(seen),
        )
        orphans += session.scalars(query)
    return delete_interactions(session=session, keys=orphans)


def _stale_where(page: PageWrite) -> Any:
    """Sightings of this folder that its completed re-baseline did not see again."""
    return (
        (SIGHTING.c.mailbox_id == page.mailbox_id)
        & (SIGHTING.c.folder_id == page.folder_id)
        & (SIGHTING.c.round < page.round)
    )


# --- the page -------------------------------------------------------------------------------


def _cursor_state(session: Session, page: PageWrite) -> bool | None:
    """The folder's `baseline_complete` before this page, None without a cursor.

    On PostgreSQL the same round trip makes the page's commit asynchronous: Graph
    is the source of truth and the cursor commits with the rows, so a page lost
    to a database crash is read again, never half-applied. The commit need not
    wait for its WAL flush (a good share of a page's time, not a risk).
    """
    where = (CURSOR.c.mailbox_id == page.mailbox_id) & (CURSOR.c.folder_id == page.folder_id)
    state = sa.select(CURSOR.c.baseline_complete).where(where).scalar_subquery()
    if _postgres(session):
        query = sa.select(state, sa.func.set_config("synchronous_commit", "off", True))
    else:
        query = sa.select(state)
    found = session.execute(query).first()
    return None if found is None or found[0] is None else bool(found[0])


def _save_cursor(session: Session, page: PageWrite, exists: bool) -> None:
    values: dict[str, Any] = {
        "next_link": page.next_link,
        "delta_link": page.delta_link,
        "updated_at": page.at,
    }
    if page.delta_link is not None:
        values["baseline_complete"] = True
    if exists:
        where = (CURSOR.c.mailbox_id == page.mailbox_id) & (CURSOR.c.folder_id == page.folder_id)
        session.execute(sa.update(CURSOR).where(where).values(values))
        return
    session.execute(
        sa.insert(CURSOR).values(
            mailbox_id=page.mailbox_id, folder_id=page.folder_id, kind=page.kind,
            round=page.round, rebaselines=0,
            **{"baseline_complete": page.delta_link is not None, **values},
        )
    )  # fmt: skip


def commit_page(engine: Engine, page: PageWrite) -> PageCounts:
    counts = PageCounts()
    records = {record.key: record for _, record in page.seen}
    with session_scope(engine) as session:
        complete = _cursor_state(session, page)
        # The last page of a re-baseline (round > 0) retires what it did not see again.
        finishing = page.delta_link is not None and page.round > 0 and not complete
        gone = _drop_gone(session, page)
        stale = (
            set(session.scalars(sa.select(SIGHTING.c.interaction_key).where(_stale_where(page))))
            if finishing
            else set()
        )
        lock_interaction_keys(session, records.keys() | gone | stale)
        origin = _upsert_interactions(session, page, records, counts)
        _upsert_sightings(session, page)
        if finishing:
            session.execute(sa.delete(SIGHTING).where(_stale_where(page)))
        dropped = (gone | stale) - set(records)
        cancelled = cancel_withdrawn(session, origin, dropped)
        counts.removed += delete_interactions(session=session, keys=sorted(cancelled))
        counts.removed += delete_orphans(session, dropped - cancelled)
        _save_cursor(session, page, exists=complete is not None)
    return counts
