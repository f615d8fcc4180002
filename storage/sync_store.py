"""Committing Exchange delta pages: rows, sightings and the cursor in one transaction.

A page is the unit of progress. Its interactions, the per-mailbox sightings
that tie Graph item ids to them, the removals it announced and the cursor
that follows it are written together, so a crash between pages resumes from
the last committed cursor and ends in exactly the rows of a clean run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.engine import session_scope
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
RESPONSE_RANK = {None: 0, "none": 1, "tentative": 2, "declined": 3, "accepted": 3}


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


def _save_cursor(session: Session, page: PageWrite) -> None:
    values: dict[str, Any] = {
        "next_link": page.next_link,
        "delta_link": page.delta_link,
        "updated_at": page.at,
    }
    if page.delta_link is not None:
        values["baseline_complete"] = True
    where = (CURSOR.c.mailbox_id == page.mailbox_id) & (CURSOR.c.folder_id == page.folder_id)
    updated = session.execute(sa.update(CURSOR).where(where).values(values))
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(
            sa.insert(CURSOR).values(
                mailbox_id=page.mailbox_id, folder_id=page.folder_id, kind=page.kind,
                round=page.round, rebaselines=0,
                **{"baseline_complete": page.delta_link is not None, **values},
            )
        )  # fmt: skip


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


def _merge(old: frozenset[PartyRow], new: frozenset[PartyRow]) -> frozenset[PartyRow]:
    """The same event seen from two calendars: keep everyone, and the most telling answer."""
    best: dict[tuple[str, str, str], PartyRow] = {}
    for party in (*old, *new):
        key = (party.record_type, party.record_id, party.role)
        kept = best.get(key)
        if kept is None or RESPONSE_RANK[party.response] > RESPONSE_RANK[kept.response]:
            best[key] = party
    return frozenset(best.values())


def _stored_parties(session: Session, keys: list[str]) -> dict[str, set[PartyRow]]:
    parties: dict[str, set[PartyRow]] = {}
    for batch in chunks(keys):
        query = sa.select(
            PARTY.c.interaction_key, PARTY.c.record_type, PARTY.c.record_id,
            PARTY.c.role, PARTY.c.side, PARTY.c.response,
        ).where(PARTY.c.interaction_key.in_(batch))  # fmt: skip
        for key, *party in session.execute(query):
            parties.setdefault(key, set()).add(PartyRow(*party))
    return parties


def _existing_rows(session: Session, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for batch in chunks(keys):
        for row in session.execute(sa.select(INTERACTION).where(INTERACTION.c.key.in_(batch))):
            rows[row.key] = row._asdict()
    return rows


def _upsert_interactions(
    session: Session, records: dict[str, InteractionRecord], counts: PageCounts
) -> None:
    # A stored CRM row with the same key is the same email logged in the CRM: the
    # Exchange copy replaces it, so it counts once.
    existing = _existing_rows(session, records)
    exchange_keys = {key for key, row in existing.items() if row["source"] == "exchange"}
    stored = _stored_parties(session, list(exchange_keys))
    replace: list[InteractionRecord] = []
    for key, record in records.items():
        if key in exchange_keys:
            # Parties gather across the mailboxes that see the item; its own fields
            # (a rescheduled start, a new duration) take the latest copy's values.
            before = frozenset(stored.get(key, ()))
            record = _with_parties(record, _merge(before, record.parties))
            if record.parties == before and record.row() == _comparable(existing[key]):
                continue  # seen before, nothing new: leave the row alone
        replace.append(record)
    counts.updated += sum(1 for record in replace if record.key in existing)
    counts.added += sum(1 for record in replace if record.key not in existing)
    delete_interactions(session=session, keys=[r.key for r in replace if r.key in existing])
    insert_interactions(session=session, records=replace)


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in ROW_FIELDS}


def _with_parties(record: InteractionRecord, parties: frozenset[PartyRow]) -> InteractionRecord:
    values: dict[str, Any] = {**record.row(), "parties": parties}
    return InteractionRecord(**values)


def _drop_sightings(
    session: Session, page: PageWrite, item_ids: Sequence[str], *, this_folder: bool = False
) -> set[str]:
    keys: set[str] = set()
    for batch in chunks(item_ids):
        where = (SIGHTING.c.mailbox_id == page.mailbox_id) & SIGHTING.c.item_id.in_(batch)
        if this_folder:
            # A removal names the item in this folder: one moved (same id) into a folder
            # synced first already has its new sighting, which must stay.
            where &= SIGHTING.c.folder_id == page.folder_id
        keys.update(session.scalars(sa.select(SIGHTING.c.interaction_key).where(where)))
        session.execute(sa.delete(SIGHTING).where(where))
    return keys


def _save_sightings(session: Session, page: PageWrite) -> None:
    item_ids = [item_id for item_id, _ in page.seen]
    _drop_sightings(session, page, item_ids)
    rows = [
        {"mailbox_id": page.mailbox_id, "item_id": item_id, "interaction_key": record.key,
         "folder_id": page.folder_id, "round": page.round}
        for item_id, record in dict(page.seen).items()
    ]  # fmt: skip
    if rows:
        session.execute(sa.insert(SIGHTING), rows)


def delete_orphans(session: Session, keys: Iterable[str]) -> int:
    """Exchange interactions that no mailbox sees any more."""
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


def _finish_baseline(session: Session, page: PageWrite) -> int:
    where = (
        (SIGHTING.c.mailbox_id == page.mailbox_id)
        & (SIGHTING.c.folder_id == page.folder_id)
        & (SIGHTING.c.round < page.round)
    )
    stale = list(session.scalars(sa.select(SIGHTING.c.interaction_key).where(where)))
    session.execute(sa.delete(SIGHTING).where(where))
    return delete_orphans(session, stale)


def commit_page(engine: Engine, page: PageWrite) -> PageCounts:
    counts = PageCounts()
    with session_scope(engine) as session:
        touched = _drop_sightings(session, page, page.gone, this_folder=True)
        records = {record.key: record for _, record in page.seen}
        _upsert_interactions(session, records, counts)
        _save_sightings(session, page)
        counts.removed += delete_orphans(session, touched - set(records))
        if page.delta_link is not None:
            counts.removed += _finish_baseline(session, page)
        _save_cursor(session, page)
    return counts
