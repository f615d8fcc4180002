"""Reading what changed since the last tick out of the change logs (storage.tick_tables).

Each `take_*` deletes exactly the log rows it returns, inside the caller's
transaction: if that transaction rolls back, the rows are there for the next
tick; a row committed by another writer meanwhile is not taken and waits
too. PostgreSQL does it in one statement (DELETE ... RETURNING); SQLite has
one writer at a time, so what it reads up to the highest sequence number is
what it deletes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlmodel import Session

from storage.directory import normalise_address
from storage.engine import is_postgres
from storage.interaction_store import chunks, key_chunks, one_of
from storage.packed_parties import FIELD_SEPARATOR, PARTY_SEPARATOR
from storage.tick_tables import (
    TICK_STATE_ID,
    CrmActivityChange,
    CrmActivityRecheck,
    CrmPersonChange,
    CrmRecordChange,
    InteractionChange,
    TickPendingRecord,
    TickState,
)
from storage.types import core_table

ACTIVITY_CHANGE = core_table(CrmActivityChange)
RECORD_CHANGE = core_table(CrmRecordChange)
PERSON_CHANGE = core_table(CrmPersonChange)
INTERACTION_CHANGE = core_table(InteractionChange)
PENDING = core_table(TickPendingRecord)
RECHECK = core_table(CrmActivityRecheck)
STATE = core_table(TickState)

Ref = tuple[str, str]  # (record type, record id)
NOT_PERMITTED = "42501"  # insufficient_privilege


class Deletes(list[str]):
    """The DELETEs of log rows read, run by `done` once the transaction is the writer.
    SQLite: a DELETE would make it the writer at once (pysqlite begins the transaction
    at the first write), holding back every other writer while the pass reads. Both
    databases: the person log, which an erasure empties (`take_person_changes`)."""

    def done(self, session: Session) -> None:
        for statement in self:
            session.execute(sa.text(statement))
        self.clear()


def _take(
    session: Session, table: sa.Table, columns: str, deletes: Deletes, where: str = ""
) -> list[Any]:
    """The distinct `columns` of the log rows (those `where`), deleted as they are read."""
    condition = f" WHERE {where}" if where else ""
    if is_postgres(session):
        query = (
            f"WITH taken AS (DELETE FROM {table.name}{condition} RETURNING {columns})"
            f" SELECT DISTINCT {columns} FROM taken"
        )
        return list(session.execute(sa.text(query)).all())
    last = session.scalar(sa.text(f"SELECT max(seq) FROM {table.name}"))
    if last is None:
        return []
    bound = f"seq <= {int(last)}" + (f" AND ({where})" if where else "")
    query = f"SELECT DISTINCT {columns} FROM {table.name} WHERE {bound}"
    rows = list(session.execute(sa.text(query)))
    deletes.append(f"DELETE FROM {table.name} WHERE {bound}")
    return rows


def take_activity_changes(session: Session, deletes: Deletes) -> set[str]:
    """Ids of the CRM activities inserted, updated or deleted (or whose parties were)."""
    rows = _take(session, ACTIVITY_CHANGE, "activity_id", deletes)
    return {activity_id for (activity_id,) in rows}


def forget_activity_changes(session: Session, deletes: Deletes) -> None:
    """For a pass that reads every activity anyway: the activity log emptied unread (a
    first load logs a million ids). Rows committed after this statement began stay.

    PostgreSQL, before any CRM pass has completed: TRUNCATE instead of DELETE (a
    million log rows cost ~1.8 s to delete, nothing to truncate). It holds the log
    until the transaction ends, so a CRM writer, whose trigger logs into it, waits
    for the first pass to commit and is logged after it, as Exchange pages wait for
    the pass's lock on every key; later passes find the log small, and DELETE it
    without holding any writer back."""
    if is_postgres(session):
        if read_state(session).crm_context is None and _truncated(session, ACTIVITY_CHANGE):
            return
        session.execute(sa.delete(ACTIVITY_CHANGE))
        return
    last = session.scalar(sa.text(f"SELECT max(seq) FROM {ACTIVITY_CHANGE.name}"))
    if last is not None:
        deletes.append(f"DELETE FROM {ACTIVITY_CHANGE.name} WHERE seq <= {int(last)}")


def _truncated(session: Session, table: sa.Table) -> bool:
    """PostgreSQL: `table` truncated in the caller's transaction; False when the role
    may not truncate it (the caller deletes its rows instead)."""
    try:
        with session.begin_nested():
            session.execute(sa.text(f"TRUNCATE {table.name}"))
    except sa.exc.DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) != NOT_PERMITTED:
            raise
        return False
    return True


def take_record_changes(session: Session, deletes: Deletes) -> set[str]:
    """Which record tables changed in a column Rapport reads (or were truncated)."""
    return {table for (table,) in _take(session, RECORD_CHANGE, "table_name", deletes)}


@dataclass(frozen=True)
class PersonImage:
    """A contact or lead row as it was or as it is (crm_person_change, migration 0014)."""

    record_type: str
    record_id: str
    account_id: str | None
    addresses: tuple[str, ...]


@dataclass
class PersonChanges:
    """The contacts and leads inserted or updated since the last tick, before and after."""

    images: set[PersonImage] = field(default_factory=set)

    @property
    def people(self) -> set[Ref]:
        return {(image.record_type, image.record_id) for image in self.images}

    @property
    def addresses(self) -> set[str]:
        """Every address they carried or carry, normalised as the directory matches them."""
        return {normalise_address(a) for image in self.images for a in image.addresses}

    @property
    def refs(self) -> set[Ref]:
        """The records to score again: the people, and the accounts a contact left or joined
        (what else names them finds them through its scope: worker.run.tick)."""
        accounts = {("account", i.account_id) for i in self.images if i.account_id}
        return self.people | accounts


def take_person_changes(session: Session, deletes: Deletes) -> PersonChanges:
    """The logged contact and lead rows, read without a lock and deleted with the pass's
    writes (`deletes`): an erasure empties this log (it holds addresses) and must not wait
    for a pass that has only read so far (tests/compliance/test_erase_during_run.py)."""
    columns = "seq, record_type, record_id, account_id, email, email2, email3"
    rows = list(session.execute(sa.text(f"SELECT {columns} FROM {PERSON_CHANGE.name}")))
    if rows:
        seqs = sorted(int(row[0]) for row in rows)
        # PostgreSQL: exactly the rows read (sequence values are not handed out in commit
        # order); SQLite has one writer at a time, so those up to the highest read.
        which = (
            f"seq = ANY('{{{','.join(map(str, seqs))}}}'::bigint[])"
            if is_postgres(session)
            else f"seq <= {seqs[-1]}"
        )
        deletes.append(f"DELETE FROM {PERSON_CHANGE.name} WHERE {which}")
    images = {
        PersonImage(kind, key, account, tuple(a for a in addresses if a))
        for _seq, kind, key, account, *addresses in rows
    }
    return PersonChanges(images)


@dataclass
class InteractionChanges:
    """Interaction keys written by anyone, and the records those rows named."""

    keys: set[str] = field(default_factory=set)
    refs: set[Ref] = field(default_factory=set)


def take_interaction_changes(
    session: Session, *, keys: Collection[str] | None = None
) -> InteractionChanges:
    """Every logged interaction change, or those of `keys` (in a writing transaction)."""
    columns = "key, parties, regarding_type, regarding_id"
    changes = InteractionChanges()
    deletes = Deletes()
    if keys is None or not is_postgres(session):
        # SQLite: the caller's transaction writes, so no other writer can have logged
        # anything since it took the log: what is there now is its own.
        rows = _take(session, INTERACTION_CHANGE, columns, deletes)
    else:
        rows = _take_keys(session, columns, keys) if keys else []
    deletes.done(session)
    for key, parties, regarding_type, regarding_id in rows:
        changes.keys.add(key)
        changes.refs.update(party_refs(parties))
        if regarding_type and regarding_id:
            changes.refs.add((regarding_type, regarding_id))
    return changes


def _take_keys(session: Session, columns: str, keys: Collection[str]) -> list[Any]:
    """PostgreSQL: the log rows of `keys`, one hash join per statement (a first pass
    writes a million keys; an IN list per thousand would scan the log a thousand times)."""
    rows: list[Any] = []
    qualified = ", ".join(f"c.{column.strip()}" for column in columns.split(","))
    query = sa.text(
        f"WITH taken AS (DELETE FROM {INTERACTION_CHANGE.name} AS c"
        " USING unnest(CAST(:keys AS text[])) AS k(key) WHERE c.key = k.key"
        f" RETURNING {qualified}) SELECT DISTINCT {columns} FROM taken"
    )
    for batch in chunks(sorted(keys), 200_000):
        rows.extend(session.execute(query, {"keys": batch}).all())
    return rows


def party_refs(packed: str | None) -> Iterable[Ref]:
    """The records named in packed parties (storage.packed_parties): record id last."""
    if not packed:
        return ()
    refs = []
    for piece in packed.split(PARTY_SEPARATOR):
        fields = piece.split(FIELD_SEPARATOR, 4)
        if len(fields) == 5:
            refs.append((fields[1], fields[4]))
    return refs


def add_pending(session: Session, refs: Iterable[Ref]) -> None:
    """Records to score at the next chance (kept if this tick fails before scoring); those
    already pending stay as they are. PostgreSQL: one statement per 200,000 (a 1 % tick at
    1M names ~20,000 records: a statement each, pipelined, cost a few tenths of a second)."""
    wanted = sorted(set(refs))
    if not wanted:
        return
    if is_postgres(session):
        for batch in chunks(wanted, 200_000):
            types, ids = zip(*batch, strict=True)
            session.execute(ADD_PENDING, {"types": list(types), "ids": list(ids)})
        return
    rows = [{"record_type": t, "record_id": i} for t, i in wanted]
    for batch in chunks(rows):
        session.execute(sqlite.insert(PENDING).on_conflict_do_nothing(), batch)


ADD_PENDING = sa.text(
    f"INSERT INTO {PENDING.name} (record_type, record_id)"
    " SELECT * FROM unnest(CAST(:types AS text[]), CAST(:ids AS text[]))"
    " ON CONFLICT DO NOTHING"
)


def pending_records(session: Session) -> set[Ref]:
    return {
        (t, i) for t, i in session.execute(sa.select(PENDING.c.record_type, PENDING.c.record_id))
    }


def forget_pending(session: Session, refs: Iterable[Ref]) -> None:
    """The records scored: only those read before scoring (more may have come since)."""
    ordered = sorted(refs)
    if not ordered:
        return
    if is_postgres(session):  # one hash join (a list of pairs is no index lookup there)
        query = sa.text(
            f"DELETE FROM {PENDING.name} AS p USING unnest(CAST(:types AS text[]),"
            " CAST(:ids AS text[])) AS k(record_type, record_id)"
            " WHERE p.record_type = k.record_type AND p.record_id = k.record_id"
        )
        for batch in chunks(ordered, 200_000):
            types, ids = zip(*batch, strict=True)
            session.execute(query, {"types": list(types), "ids": list(ids)})
        return
    delete = sa.delete(PENDING).where(
        PENDING.c.record_type == sa.bindparam("t"), PENDING.c.record_id == sa.bindparam("i")
    )
    session.execute(delete, [{"t": kind, "i": key} for kind, key in ordered])


def rechecks(session: Session) -> set[str]:
    return set(session.scalars(sa.select(RECHECK.c.activity_id)))


def recheck_count(session: Session) -> int:
    """How many activities are kept for a recheck (a few: rows with a problem)."""
    return int(session.scalar(sa.select(sa.func.count()).select_from(RECHECK)) or 0)


def replace_rechecks(session: Session, *, forget: Iterable[str] | None, add: Iterable[str]) -> None:
    """Drop the activity ids `forget` (None: all), then add `add`."""
    if forget is None:
        session.execute(sa.delete(RECHECK))
    else:
        postgres = is_postgres(session)
        for ids in key_chunks(postgres, sorted(set(forget))):
            session.execute(sa.delete(RECHECK).where(one_of(postgres, RECHECK.c.activity_id, ids)))
    rows = [{"activity_id": activity_id} for activity_id in sorted(set(add))]
    for batch in chunks(rows):
        session.execute(sa.insert(RECHECK), batch)


@dataclass(frozen=True)
class TickMemory:
    """The row of tick_state (all None/False before the first tick)."""

    crm_context: str | None = None
    crm_not_before: datetime | None = None
    crm_completed_until: datetime | None = None
    crm_latest: datetime | None = None
    crm_digests: int | None = None
    crm_outcomes: dict[str, int] | None = None  # those digests by outcome, when kept
    regraded_at: datetime | None = None
    settings_fingerprint: str | None = None
    regrade_due: bool = False


def read_state(session: Session) -> TickMemory:
    row = session.execute(sa.select(STATE).where(STATE.c.id == TICK_STATE_ID)).mappings().first()
    if row is None:
        return TickMemory()
    return TickMemory(**{name: row[name] for name in TickMemory.__dataclass_fields__})


def write_state(session: Session, **values: Any) -> None:
    """Set these columns of tick_state (the row is made on the first write)."""
    updated = session.execute(sa.update(STATE).where(STATE.c.id == TICK_STATE_ID).values(values))
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(
            sa.insert(STATE).values({"id": TICK_STATE_ID, "regrade_due": False, **values})
        )


def forget_interaction_changes(session: Session) -> None:
    """After an erasure: the logged rows may name the subject. What they would have
    told the next tick, a full pass and a regrade give it (the marker asks for both)."""
    session.execute(sa.delete(INTERACTION_CHANGE))
    session.execute(sa.delete(PERSON_CHANGE))
    session.execute(sa.delete(PENDING))
    session.execute(sa.insert(RECORD_CHANGE).values(table_name="erased_subject"))


def stored_interactions(*, session: Session) -> int:
    """How many interactions the store holds (a skipped tick still reports it)."""
    return int(session.scalar(sa.text("SELECT count(*) FROM interaction")) or 0)
