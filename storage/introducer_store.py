"""Who-knows-whom rows: replaced per run in bulk, read back per record.

A run hands over the complete set of introducers; only the difference is
written (new rows inserted, changed rows updated, vanished rows deleted), so
an hourly run over a stable book touches a handful of rows. `computed_at`
is when a row's values were last written.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from storage.bulk import insert_rows, update_rows
from storage.crm_tables import SystemUser
from storage.engine import is_postgres
from storage.interaction_store import chunks, ids_by_type, key_chunks, keyed_rows
from storage.rapport_tables import Introducer
from storage.types import core_table

INTRODUCER = core_table(Introducer)
SYSTEM_USER = core_table(SystemUser)
KEY_COLUMNS = ("record_type", "record_id", "system_user_id")
# The `ri_settings` key listing colleagues who opted out (system user ids, or
# the one-way token an erasure left in place of one).
OPTED_OUT_KEY = "who_knows_whom.opted_out"
VALUE_COLUMNS = ("rank", "strength", "strength_label", "last_interaction_at")


class IntroducerRow(NamedTuple):
    record_type: str
    record_id: str
    system_user_id: str
    rank: int
    strength: int
    strength_label: str
    last_interaction_at: datetime | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.record_type, self.record_id, self.system_user_id)

    @property
    def values(self) -> tuple[Any, ...]:
        return (self.rank, self.strength, self.strength_label, self.last_interaction_at)


@dataclass
class IntroducerCounts:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0


def _stored(
    session: Session, records: Collection[tuple[str, str]] | None = None
) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    """The stored rows by key: all, or those of `records` ((record type, record id)
    pairs), read by the table's key."""
    columns = [INTRODUCER.c[c] for c in (*KEY_COLUMNS, *VALUE_COLUMNS)]
    if records is None:
        return {tuple(row[:3]): tuple(row[3:]) for row in session.execute(sa.select(*columns))}
    postgres = is_postgres(session)
    stored: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    for record_type, ids in ids_by_type(records).items():
        of_type = INTRODUCER.c.record_type == record_type
        for batch in key_chunks(postgres, ids):  # SQLite: a bounded IN list
            query = keyed_rows(session, columns, INTRODUCER.c.record_id, batch, of_type)
            stored.update((tuple(row[:3]), tuple(row[3:])) for row in session.execute(query))
    return stored


def replace_introducers(
    *,
    session: Session,
    rows: Iterable[IntroducerRow],
    now: datetime,
    records: Collection[tuple[str, str]] | None = None,
) -> IntroducerCounts:
    """Make the table hold exactly `rows`, writing only what differs; with `records`
    ((record type, record id) pairs), only those records' rows are replaced and every
    other row stays, unread."""
    stored = _stored(session, records)
    desired = {row.key: row for row in rows}
    # One look-up per row: a tick hands over tens of thousands.
    new: list[IntroducerRow] = []
    changed: list[IntroducerRow] = []
    for key, row in desired.items():
        held = stored.get(key)
        if held is None:
            new.append(row)
        elif held != row.values:
            changed.append(row)
    gone = [key for key in stored if key not in desired]
    delete_keys(session=session, keys=gone)
    insert_rows(
        session,
        INTRODUCER,
        (*KEY_COLUMNS, *VALUE_COLUMNS, "computed_at"),
        ((*row, now) for row in new),
    )
    update_rows(
        session,
        INTRODUCER,
        KEY_COLUMNS,
        (*VALUE_COLUMNS, "computed_at"),
        [(*row, now) for row in changed],
    )
    return IntroducerCounts(
        added=len(new),
        updated=len(changed),
        removed=len(gone),
        unchanged=len(desired) - len(new) - len(changed),
    )


def delete_keys(*, session: Session, keys: Collection[tuple[str, str, str]]) -> int:
    removed = 0
    columns = sa.tuple_(*(INTRODUCER.c[c] for c in KEY_COLUMNS))
    for batch in chunks(keys):
        result = session.execute(sa.delete(INTRODUCER).where(columns.in_(batch)))
        removed += result.rowcount  # type: ignore[attr-defined]
    return removed


def delete_introducers(*, session: Session, system_user_ids: Collection[str] | None = None) -> int:
    """Remove every row, or only those naming these colleagues. Returns how many."""
    statement = sa.delete(INTRODUCER)
    if system_user_ids is None:
        return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]
    removed = 0
    for batch in chunks(system_user_ids):
        result = session.execute(statement.where(INTRODUCER.c.system_user_id.in_(batch)))
        removed += result.rowcount  # type: ignore[attr-defined]
    return removed


def load_introducers(*, session: Session, record_type: str, record_id: str) -> list[dict[str, Any]]:
    """A record's introducers, strongest first, with each colleague's name and address."""
    query = (
        sa.select(
            INTRODUCER.c.rank,
            INTRODUCER.c.system_user_id,
            SYSTEM_USER.c.full_name,
            SYSTEM_USER.c.email,
            INTRODUCER.c.strength,
            INTRODUCER.c.strength_label,
            INTRODUCER.c.last_interaction_at,
        )
        .join(SYSTEM_USER, SYSTEM_USER.c.id == INTRODUCER.c.system_user_id)
        .where(INTRODUCER.c.record_type == record_type, INTRODUCER.c.record_id == record_id)
        .order_by(INTRODUCER.c.rank, INTRODUCER.c.system_user_id)
    )
    return [row._asdict() for row in session.execute(query)]
