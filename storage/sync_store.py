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
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.copies import CopyOrigin, cancel_withdrawn, copy_origin
from storage.engine import is_postgres, session_scope
from storage.interaction_locks import become_sqlite_writer, lock_interaction_keys
from storage.interaction_store import (
    INTERACTION,
    PARTY,
    ROW_COLUMNS,
    InteractionRecord,
    PartyRow,
    chunks,
    delete_interactions,
    insert_interactions,
    keyed_rows,
    text_array,
)
from storage.sync_tables import InteractionSighting, SyncCursor
from storage.types import UTCDateTime, core_table

SIGHTING = core_table(InteractionSighting)
CURSOR = core_table(SyncCursor)
SIGHTING_COLUMNS = ("mailbox_id", "item_id", "interaction_key", "folder_id", "round")
ON_CONFLICT = (
    " ON CONFLICT (mailbox_id, item_id) DO UPDATE SET interaction_key = excluded.interaction_key,"
    " folder_id = excluded.folder_id, round = excluded.round"
)
UPSERT_SIGHTINGS = (
    f"INSERT INTO interaction_sighting ({', '.join(SIGHTING_COLUMNS)})"
    " SELECT :mailbox, item_id, interaction_key, :folder, :round"
    " FROM unnest(CAST(:items AS varchar[]), CAST(:keys AS varchar[]))"
    f" AS page(item_id, interaction_key){ON_CONFLICT}"
)
# PostgreSQL closes a page in one round trip: its sightings (the ids and keys as
# two arrays) and the cursor that follows it, inserted or moved forward.
CLOSE_PAGE = sa.text(
    f"WITH sighted AS ({UPSERT_SIGHTINGS})"
    " INSERT INTO sync_cursor (mailbox_id, folder_id, kind, round, rebaselines,"
    "  baseline_complete, next_link, delta_link, updated_at)"
    " VALUES (:mailbox, :folder, :kind, :round, 0, :complete, :next_link, :delta_link, :at)"
    " ON CONFLICT (mailbox_id, folder_id) DO UPDATE SET next_link = excluded.next_link,"
    " delta_link = excluded.delta_link, updated_at = excluded.updated_at,"
    " baseline_complete = sync_cursor.baseline_complete OR excluded.baseline_complete"
).bindparams(sa.bindparam("at", type_=UTCDateTime()))


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
            row.mailbox_id,
            row.folder_id,
            row.kind,
            row.next_link,
            row.delta_link,
            bool(row.baseline_complete),
            row.round,
            row.updated_at,
        )
        for row in rows
    }


def start_rebaseline(engine: Engine, *, mailbox_id: str, folder_id: str, kind: str) -> int:
    """Forget the folder's links and open a new round; returns the new round number."""
    with session_scope(engine) as session:
        where = (CURSOR.c.mailbox_id == mailbox_id) & (CURSOR.c.folder_id == folder_id)
        current = session.execute(sa.select(CURSOR.c.round).where(where)).scalar()
        new_round = (current or 0) + 1
        if current is None:
            session.execute(
                sa.insert(CURSOR).values(
                    mailbox_id=mailbox_id,
                    folder_id=folder_id,
                    kind=kind,
                    round=new_round,
                    rebaselines=1,
                    baseline_complete=False,
                )
            )
        else:
            session.execute(
                sa.update(CURSOR)
                .where(where)
                .values(
                    next_link=None,
                    delta_link=None,
                    baseline_complete=False,
                    round=new_round,
                    rebaselines=CURSOR.c.rebaselines + 1,
                )
            )
    return new_round


# --- interactions ---------------------------------------------------------------------------


def _existing_rows(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for batch in chunks(keys):
        # Not the packed parties: a page's parties are compared as party rows.
        columns = [INTERACTION.c[name] for name in ROW_COLUMNS]
        query = keyed_rows(session, columns, INTERACTION.c.key, batch)
        rows.update((row.key, row._asdict()) for row in session.execute(query))
    return rows


def _stored_parties(session: Session, keys: Sequence[str]) -> dict[str, set[PartyRow]]:
    parties: dict[str, set[PartyRow]] = {}
    for batch in chunks(keys):
        columns = [PARTY.c.interaction_key, *(PARTY.c[name] for name in PartyRow._fields)]
        query = keyed_rows(session, columns, PARTY.c.interaction_key, batch)
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
            if record.parties == before and record.row() == {f: row[f] for f in ROW_COLUMNS}:
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
DELETE_GONE_SIGHTINGS = (
    "DELETE FROM interaction_sighting WHERE ctid = ANY(ARRAY("
    " SELECT (SELECT ctid FROM interaction_sighting"
    "  WHERE mailbox_id = :mailbox AND item_id = gone.item_id AND folder_id = :folder)"
    " FROM unnest(CAST(:gone AS varchar[])) AS gone(item_id)"
    ")) RETURNING interaction_key"
)
# PostgreSQL opens a page in one round trip: the folder's `baseline_complete`
# (see _cursor_state), the commit made asynchronous, and the sightings of the
# page's removed items deleted, with the interaction keys they named.
OPEN_PAGE = sa.text(
    f"WITH gone AS ({DELETE_GONE_SIGHTINGS})"
    " SELECT (SELECT baseline_complete FROM sync_cursor"
    "   WHERE mailbox_id = :mailbox AND folder_id = :folder),"
    " set_config('synchronous_commit', 'off', true),"
    " ARRAY(SELECT interaction_key FROM gone)"
)


def _gone_here(page: PageWrite, item_ids: Sequence[str]) -> Any:
    # A removal names the item in this folder: one moved (same id) into a folder synced
    # first already has its new sighting, which must stay.
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
        keys.update(session.scalars(_gone_here(page, batch)))
    return keys


def _sightings(page: PageWrite) -> dict[str, str]:
    return {item_id: record.key for item_id, record in page.seen}


def _upsert_sightings(session: Session, page: PageWrite) -> None:
    if mine := _sightings(page):
        columns = ", ".join(SIGHTING_COLUMNS)
        insert = f"INSERT INTO interaction_sighting ({columns}) VALUES (?, ?, ?, ?, ?){ON_CONFLICT}"
        mailbox, folder, round_ = page.mailbox_id, page.folder_id, page.round
        rows = [(mailbox, item, key, folder, round_) for item, key in mine.items()]
        session.connection().exec_driver_sql(insert, rows)


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
    """The folder's `baseline_complete` before this page, None without a cursor."""
    where = (CURSOR.c.mailbox_id == page.mailbox_id) & (CURSOR.c.folder_id == page.folder_id)
    found = session.execute(sa.select(CURSOR.c.baseline_complete).where(where)).first()
    return None if found is None else bool(found[0])


def _open_page(session: Session, page: PageWrite) -> tuple[bool | None, set[str]]:
    """The cursor's state, then the sightings of the page's removed items deleted:
    (`baseline_complete` or None without a cursor, the interaction keys they named).

    On PostgreSQL one round trip, which also makes the page's commit asynchronous:
    Graph is the source of truth and the cursor commits with the rows, so a page
    lost to a database crash is read again, never half-applied. The commit need not
    wait for its WAL flush (a good share of a page's time, not a risk).
    """
    if not is_postgres(session):
        become_sqlite_writer(session)  # a run --once beside the worker may write this page too
        return _cursor_state(session, page), _drop_gone(session, page)
    complete, _, gone = session.execute(
        OPEN_PAGE,
        {"mailbox": page.mailbox_id, "folder": page.folder_id, "gone": text_array(page.gone)},
    ).one()
    return (None if complete is None else bool(complete)), set(gone)


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
            mailbox_id=page.mailbox_id,
            folder_id=page.folder_id,
            kind=page.kind,
            round=page.round,
            rebaselines=0,
            **{"baseline_complete": page.delta_link is not None, **values},
        )
    )


def _close_page(session: Session, page: PageWrite, exists: bool) -> None:
    """The page's sightings and the cursor that follows it; one round trip on PostgreSQL."""
    if not is_postgres(session):
        _upsert_sightings(session, page)
        _save_cursor(session, page, exists)
        return
    mine = _sightings(page)
    session.execute(
        CLOSE_PAGE,
        {
            "mailbox": page.mailbox_id,
            "folder": page.folder_id,
            "kind": page.kind,
            "round": page.round,
            "items": text_array(mine),
            "keys": text_array(mine.values()),
            "next_link": page.next_link,
            "delta_link": page.delta_link,
            "at": page.at,
            "complete": page.delta_link is not None,
        },
    )


def commit_page(engine: Engine, page: PageWrite) -> PageCounts:
    counts = PageCounts()
    records = {record.key: record for _, record in page.seen}
    with session_scope(engine) as session:
        complete, gone = _open_page(session, page)
        # The last page of a re-baseline (round > 0) retires what it did not see again.
        finishing = page.delta_link is not None and page.round > 0 and not complete
        stale = (
            set(session.scalars(sa.select(SIGHTING.c.interaction_key).where(_stale_where(page))))
            if finishing
            else set()
        )
        lock_interaction_keys(session, records.keys() | gone | stale)
        origin = _upsert_interactions(session, page, records, counts)
        if finishing:
            session.execute(sa.delete(SIGHTING).where(_stale_where(page)))
        # The page's own sightings are written last (with the cursor): they name only
        # its records' keys, never one of the dropped keys checked below.
        dropped = (gone | stale) - set(records)
        cancelled = cancel_withdrawn(session, origin, dropped)
        counts.removed += delete_interactions(session=session, keys=sorted(cancelled))
        counts.removed += delete_orphans(session, dropped - cancelled)
        _close_page(session, page, exists=complete is not None)
    return counts
