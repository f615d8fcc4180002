"""Retention: old interactions go, old daily history is thinned to weekly.

Interactions older than the window are deleted with their parties. Daily
health snapshots older than the snapshot window keep one row per record per
ISO week, the last day of that week that has a row, so a long trend chart
keeps its shape at a seventh of the rows. Both are idempotent: a second purge
at the same `now` removes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from compliance.exceptions import RetentionWindowError
from compliance.tables import INTERACTION, PARTY, SIGHTING, SNAPSHOT
from storage.audit import record_event
from storage.engine import session_scope
from storage.interaction_store import chunks

INTERACTION_DAYS, SNAPSHOT_DAILY_DAYS = 730, 90
MAX_WINDOW_DAYS = 36_500  # a century, as RAPPORT_RETENTION_*_DAYS allow
PURGE_COMMAND, PURGE_ACTION = "retention purge", "retention_purged"
STREAM = 5000


@dataclass(frozen=True)
class RetentionReport:
    interaction_cutoff: datetime  # interactions before this went
    snapshot_cutoff: date  # daily snapshots before this were thinned
    interactions_deleted: int
    interaction_parties_deleted: int
    sightings_deleted: int
    snapshots_deleted: int

    def counts(self) -> dict[str, int]:
        return {
            "interaction": self.interactions_deleted,
            "interaction_party": self.interaction_parties_deleted,
            "interaction_sighting": self.sightings_deleted,
            "health_snapshot": self.snapshots_deleted,
        }


def purge_retention(
    engine: Engine,
    *,
    now: datetime,
    interaction_days: int = INTERACTION_DAYS,
    snapshot_daily_days: int = SNAPSHOT_DAILY_DAYS,
    command: str = PURGE_COMMAND,
) -> RetentionReport:
    """Apply both windows in one transaction, with an audit row of the counts."""
    for name, days in (
        ("interaction_days", interaction_days),
        ("snapshot_daily_days", snapshot_daily_days),
    ):
        if not 1 <= days <= MAX_WINDOW_DAYS:
            raise RetentionWindowError(
                f"{name}: {days} is not allowed; expected 1 to {MAX_WINDOW_DAYS} days"
            )
    try:
        interaction_cutoff = now - timedelta(days=interaction_days)
        snapshot_cutoff = (now - timedelta(days=snapshot_daily_days)).date()
    except OverflowError:  # a `now` in the first century: the window reaches before year 1
        raise RetentionWindowError(
            f"now: {now.isoformat()} is too early for a window of {interaction_days} and "
            f"{snapshot_daily_days} days"
        ) from None
    with session_scope(engine) as session:
        interactions, parties, sightings = _purge_interactions(session, interaction_cutoff)
        snapshots = _thin_snapshots(session, snapshot_cutoff)
        report = RetentionReport(
            interaction_cutoff, snapshot_cutoff, interactions, parties, sightings, snapshots
        )
        record_event(
            session=session,
            at=now,
            command=command,
            action=PURGE_ACTION,
            details={
                "counts": report.counts(),
                "interaction_days": interaction_days,
                "snapshot_daily_days": snapshot_daily_days,
            },
        )
    return report


def _purge_interactions(session: Session, cutoff: datetime) -> tuple[int, int, int]:
    old = sa.select(INTERACTION.c.key).where(INTERACTION.c.occurred_at < cutoff)
    # Parties first and explicitly: SQLite cascades only with foreign_keys=ON,
    # which a CRM's own connection may not set. Sightings have no foreign key.
    sightings = session.execute(sa.delete(SIGHTING).where(SIGHTING.c.interaction_key.in_(old)))
    parties = session.execute(sa.delete(PARTY).where(PARTY.c.interaction_key.in_(old)))
    interactions = session.execute(sa.delete(INTERACTION).where(INTERACTION.c.occurred_at < cutoff))
    counts = (interactions.rowcount, parties.rowcount, sightings.rowcount)  # type: ignore[attr-defined]
    return counts


def _thin_snapshots(session: Session, cutoff: date) -> int:
    query = (
        sa.select(SNAPSHOT.c.record_type, SNAPSHOT.c.record_id, SNAPSHOT.c.day)
        .where(SNAPSHOT.c.day < cutoff)
        .order_by(SNAPSHOT.c.record_type, SNAPSHOT.c.record_id, SNAPSHOT.c.day)
    )
    surplus = _surplus_days(session.execute(query.execution_options(yield_per=STREAM)))
    statement = sa.delete(SNAPSHOT).where(
        SNAPSHOT.c.record_type == sa.bindparam("b_type"),
        SNAPSHOT.c.record_id == sa.bindparam("b_id"),
        SNAPSHOT.c.day == sa.bindparam("b_day"),
    )
    deleted = 0
    # Collected before deleting: the rows being read must not change under the cursor.
    for batch in chunks(list(surplus), STREAM):
        session.execute(statement, batch)
        deleted += len(batch)
    return deleted


def _surplus_days(rows: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Every day but the last of its ISO week, per record (rows sorted by record, day)."""

    def week(row: Any) -> tuple[str, str, int, int]:
        year, number, _ = row.day.isocalendar()
        return row.record_type, row.record_id, year, number

    for _, days in groupby(rows, key=week):
        *earlier, _last = days
        for row in earlier:
            yield {"b_type": row.record_type, "b_id": row.record_id, "b_day": row.day}
