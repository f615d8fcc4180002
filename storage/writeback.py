"""Write health back to the CRM store: record fields, KPI rows, daily history.

Only rows whose values changed are written, in batched transactions, so a CRM
that replicates or audits these tables sees no churn from a run that changed
nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.bulk import insert_rows, update_rows
from storage.crm_tables import Account, Contact, Lead, Opportunity
from storage.engine import session_scope
from storage.interaction_store import chunks
from storage.rapport_tables import HealthSnapshot, RelationshipKpi
from storage.types import core_table

RECORD_TABLES = {
    "contact": core_table(Contact),
    "lead": core_table(Lead),
    "opportunity": core_table(Opportunity),
    "account": core_table(Account),
}
KPI = core_table(RelationshipKpi)
SNAPSHOT = core_table(HealthSnapshot)
KPI_KEY = ("record_type", "record_id")
KPI_VALUES = tuple(
    c.name for c in KPI.columns if c.name not in (*KPI_KEY, "computed_at", "kpi_digest")
)
Health = tuple[int | None, int | None, int | None]  # score, state, trend


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What scoring concluded about one record, as column values."""

    record_type: str
    record_id: str
    health: Health
    kpi: dict[str, Any]  # every column of KPI_VALUES, JSON-safe


@dataclass
class WritebackCounts:
    records_updated: int = 0
    kpis_written: int = 0
    snapshots_written: int = 0
    unchanged: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


@dataclass
class StoredState:
    health: dict[tuple[str, str], Health]
    kpis: dict[tuple[str, str], str | None]  # the stored kpi_digest
    snapshots: dict[tuple[str, str], Health]


def load_stored_state(*, session: Session, day: date) -> StoredState:
    health: dict[tuple[str, str], Health] = {}
    for record_type, table in RECORD_TABLES.items():
        query = sa.select(
            table.c.id, table.c.health_score, table.c.health_state, table.c.health_trend
        )
        for record_id, *values in session.execute(query):
            health[(record_type, record_id)] = (values[0], values[1], values[2])
    kpi_query = sa.select(KPI.c.record_type, KPI.c.record_id, KPI.c.kpi_digest)
    kpis = {(row[0], row[1]): row[2] for row in session.execute(kpi_query)}
    snapshot_query = sa.select(
        SNAPSHOT.c.record_type,
        SNAPSHOT.c.record_id,
        SNAPSHOT.c.health_score,
        SNAPSHOT.c.health_state,
        SNAPSHOT.c.health_trend,
    ).where(SNAPSHOT.c.day == day)
    snapshots = {(r[0], r[1]): (r[2], r[3], r[4]) for r in session.execute(snapshot_query)}
    return StoredState(health, kpis, snapshots)


HEALTH_COLUMNS = ("health_score", "health_state", "health_trend", "health_updated_at")
SNAPSHOT_COLUMNS = (
    "record_type",
    "record_id",
    "day",
    "health_score",
    "health_state",
    "health_trend",
)
KPI_COLUMNS = (*KPI_KEY, *KPI_VALUES, "kpi_digest", "computed_at")


def kpi_digest(values: Sequence[Any]) -> str:
    """Stable digest of one record's KPI values (in KPI_VALUES order)."""
    return hashlib.blake2b(msgspec.json.encode(values), digest_size=16).hexdigest()


def clear_health(
    *, session: Session, record_type: str, record_id: str, written_only: bool = False
) -> int:
    """Set a record's health fields back to null; `written_only`: only if write-back
    ever set them (health_updated_at). Returns how many rows changed (0 or 1)."""
    table = RECORD_TABLES[record_type]
    where = table.c.id == record_id
    if written_only:
        where &= table.c.health_updated_at.is_not(None)
    result = session.execute(sa.update(table).where(where).values(dict.fromkeys(HEALTH_COLUMNS)))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _update_health(session: Session, record_type: str, rows: list[tuple[Any, ...]]) -> None:
    """rows: (id, score, state, trend, updated_at)."""
    update_rows(session, RECORD_TABLES[record_type], ("id",), HEALTH_COLUMNS, rows)


def _write_kpis(
    session: Session, new: list[tuple[Any, ...]], changed: list[tuple[Any, ...]]
) -> None:
    """rows in KPI_COLUMNS order."""
    insert_rows(session, KPI, KPI_COLUMNS, new)
    update_rows(session, KPI, KPI_KEY, KPI_COLUMNS[2:], changed)


def _write_snapshots(
    session: Session, new: list[tuple[Any, ...]], changed: list[tuple[Any, ...]]
) -> None:
    """rows in SNAPSHOT_COLUMNS order."""
    insert_rows(session, SNAPSHOT, SNAPSHOT_COLUMNS, new)
    update_rows(session, SNAPSHOT, SNAPSHOT_COLUMNS[:3], SNAPSHOT_COLUMNS[3:], changed)


def _write_batch(
    session: Session,
    batch: Sequence[RecordResult],
    stored: StoredState,
    now: datetime,
    counts: WritebackCounts,
) -> None:
    day = now.date()
    health_rows: dict[str, list[tuple[Any, ...]]] = {}
    new_kpis: list[tuple[Any, ...]] = []
    changed_kpis: list[tuple[Any, ...]] = []
    new_snaps: list[tuple[Any, ...]] = []
    changed_snaps: list[tuple[Any, ...]] = []
    for result in batch:
        key = (result.record_type, result.record_id)
        touched = False
        if key in stored.health and stored.health[key] != result.health:
            health_rows.setdefault(result.record_type, []).append(
                (result.record_id, *result.health, now)
            )
            stored.health[key] = result.health
            counts.by_type[result.record_type] = counts.by_type.get(result.record_type, 0) + 1
            counts.records_updated += 1
            touched = True
        values = [result.kpi[name] for name in KPI_VALUES]
        digest = kpi_digest(values)
        if stored.kpis.get(key) != digest:
            (changed_kpis if key in stored.kpis else new_kpis).append((*key, *values, digest, now))
            stored.kpis[key] = digest
            counts.kpis_written += 1
            touched = True
        if stored.snapshots.get(key) != result.health:
            (changed_snaps if key in stored.snapshots else new_snaps).append(
                (*key, day, *result.health)
            )
            stored.snapshots[key] = result.health
            counts.snapshots_written += 1
            touched = True
        counts.unchanged += not touched
    for record_type, rows in health_rows.items():
        _update_health(session, record_type, rows)
    _write_kpis(session, new_kpis, changed_kpis)
    _write_snapshots(session, new_snaps, changed_snaps)


def write_back(
    engine: Engine, results: Iterable[RecordResult], *, now: datetime, batch_size: int = 2000
) -> WritebackCounts:
    """Persist results; one transaction per batch so a failure loses at most one batch."""
    counts = WritebackCounts()
    with session_scope(engine) as session:
        stored = load_stored_state(session=session, day=now.date())
    for batch in chunks(results, batch_size):
        with session_scope(engine) as session:
            _write_batch(session, batch, stored, now, counts)
    return counts
