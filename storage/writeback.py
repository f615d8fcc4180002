"""Write health back to the CRM store: record fields, KPI rows, daily history.

Only rows whose values changed are written, in batched transactions, so a CRM
that replicates or audits these tables sees no churn from a run that changed
nothing. On PostgreSQL a batch is a few statements (an UPDATE per record type
from one JSON parameter; per table a DELETE of the rows replaced and one COPY:
storage.bulk), written in a background thread while the caller scores the next
batch (storage.write_behind); the stored state the results are compared with is
read by another while the caller scores the first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import compress, repeat
from operator import ne
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.bulk import (
    COPY_NULL,
    copy_data,
    delete_by_keys,
    insert_rows,
    update_by_keys,
    update_rows,
)
from storage.crm_tables import Account, Contact, Lead, Opportunity
from storage.engine import is_postgres, session_scope
from storage.interaction_store import chunks, ids_by_type, keyed_rows
from storage.kpi_rows import (
    KPI_COLUMNS,
    KPI_KEY,
    KpiBatch,
    KpiValues,
    copy_keys,
    copy_lines,
    kpi_row,
)
from storage.rapport_tables import HealthSnapshot, RelationshipKpi
from storage.types import core_table
from storage.write_behind import write_all_behind

RECORD_TABLES = {
    "contact": core_table(Contact),
    "lead": core_table(Lead),
    "opportunity": core_table(Opportunity),
    "account": core_table(Account),
}
KPI = core_table(RelationshipKpi)
SNAPSHOT = core_table(HealthSnapshot)
_SNAPSHOT_STATE = (
    SNAPSHOT.c.record_type,
    SNAPSHOT.c.record_id,
    SNAPSHOT.c.health_score,
    SNAPSHOT.c.health_state,
    SNAPSHOT.c.health_trend,
)
Health = tuple[int | None, int | None, int | None]  # score, state, trend


class RecordResult(NamedTuple):
    """What scoring concluded about one record, as column values (a tuple: one is
    made per record scored)."""

    record_type: str
    record_id: str
    health: Health
    kpi: KpiValues


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


def load_stored_state(
    *, session: Session, day: date, records: Collection[tuple[str, str]] | None = None
) -> StoredState:
    """The stored health, KPI digest and snapshot of `day` of every record, or on
    PostgreSQL of `records` only ((record type, id) pairs: a tick scoring a few of
    the book's records), each by one index probe (storage.interaction_store.keyed_rows).

    The whole state is read with one scan of each table, through the session's Core
    connection (the ORM's handling of each row cost about twice as much, 2.6 against
    1.4 us a row). Reading only each batch's records with `= ANY(...)` was tried and
    undone: on bench/score.py's fresh 1M store the pipeline's run took 17.9 s instead
    of 6.3 s (the server's plans for those lookups followed relationship_kpi's
    statistics, which still said it was empty); keyed_rows' probes follow no
    statistics. At 1M a 1 % tick's 9,308 records were read in 0.1-0.2 s this way
    against 0.6-0.7 s for the whole state.
    """
    if records is not None and is_postgres(session):
        return _keyed_stored_state(session, day, records)
    connection = session.connection()
    health: dict[tuple[str, str], Health] = {}
    for record_type, table in RECORD_TABLES.items():
        query = sa.select(
            table.c.id, table.c.health_score, table.c.health_state, table.c.health_trend
        )
        for record_id, score, state, trend in connection.execute(query).all():
            health[(record_type, record_id)] = (score, state, trend)
    kpi_query = sa.select(KPI.c.record_type, KPI.c.record_id, KPI.c.kpi_digest)
    kpis = {(row[0], row[1]): row[2] for row in connection.execute(kpi_query).all()}
    snapshot_query = sa.select(*_SNAPSHOT_STATE).where(SNAPSHOT.c.day == day)
    snapshot_rows = connection.execute(snapshot_query).all()
    snapshots = {(r[0], r[1]): (r[2], r[3], r[4]) for r in snapshot_rows}
    return StoredState(health, kpis, snapshots)


def _keyed_stored_state(
    session: Session, day: date, records: Collection[tuple[str, str]]
) -> StoredState:
    connection = session.connection()
    ids = ids_by_type(records)
    state = StoredState({}, {}, {})
    for record_type, table in RECORD_TABLES.items():
        wanted = ids.get(record_type, [])
        if not wanted:
            continue
        columns = (table.c.id, table.c.health_score, table.c.health_state, table.c.health_trend)
        query = keyed_rows(session, columns, table.c.id, wanted)
        for record_id, score, state_code, trend in connection.execute(query).all():
            state.health[(record_type, record_id)] = (score, state_code, trend)
        kind = KPI.c.record_type == record_type
        query = keyed_rows(
            session, (KPI.c.record_id, KPI.c.kpi_digest), KPI.c.record_id, wanted, kind
        )
        for record_id, digest in connection.execute(query).all():
            state.kpis[(record_type, record_id)] = digest
        on_day = (SNAPSHOT.c.record_type == record_type, SNAPSHOT.c.day == day)
        query = keyed_rows(session, _SNAPSHOT_STATE, SNAPSHOT.c.record_id, wanted, *on_day)
        for row in connection.execute(query).all():
            state.snapshots[(row[0], row[1])] = (row[2], row[3], row[4])
    return state


# Records per write-back transaction (RAPPORT_WRITEBACK_BATCH_SIZE): a failure loses
# at most one batch, which the next run writes. Two batches are held at once (one
# written while the next is made), about 2.5 KB a record each, most of it the KPI
# row's weekly timeline: at 1M interactions a regrade peaked at 424-426 MiB with
# 10,000, 389 with 5,000 and 373-374 with 2,000, at the same speed (alternating runs
# in one window; a transaction's fixed cost is a few milliseconds).
DEFAULT_BATCH_SIZE = 2_000

HEALTH_COLUMNS = ("health_score", "health_state", "health_trend", "health_updated_at")
SNAPSHOT_COLUMNS = (
    "record_type",
    "record_id",
    "day",
    "health_score",
    "health_state",
    "health_trend",
)
SNAPSHOT_KEY = SNAPSHOT_COLUMNS[:3]  # one snapshot per record and day


def _snapshot_data(
    record_types: Sequence[str],
    record_ids: Sequence[str],
    healths: Sequence[Health],
    day: date,
) -> bytes:
    """The records' health on `day` as COPY text format, in SNAPSHOT_COLUMNS order: the
    keys made at once (copy_keys), each health's fields once (few are distinct)."""
    on = day.isoformat()
    fields: dict[Health, bytes] = {}
    for health in set(healths):
        values = [COPY_NULL if value is None else str(value) for value in health]
        fields[health] = "\t".join(["", on, *values]).encode() + b"\n"
    lines = list(map(fields.__getitem__, healths))
    return copy_lines(len(healths), (copy_keys(record_types, record_ids), lines))


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


class _Batch(NamedTuple):
    """A batch's results as columns, and its KPI values encoded together (KpiBatch)."""

    record_types: tuple[str, ...]
    record_ids: tuple[str, ...]
    healths: tuple[Health, ...]
    kpis: KpiBatch

    @classmethod
    def of(cls, results: Sequence[RecordResult]) -> _Batch:
        record_types, record_ids, healths, values = zip(*results, strict=True)
        return cls(record_types, record_ids, healths, KpiBatch(values))


@dataclass
class _Changes:
    """What one batch writes: on PostgreSQL one UPDATE per record type, and per table
    one DELETE of the rows replaced and one COPY.

    The rows written are indexes into the batch (`kpis`, `snapshots`; `replaced_*`
    those that replace a stored row). On PostgreSQL they are encoded (`encode`) by the
    thread that scores, before the batch is handed to the writing thread, which then
    only sends statements (their COPY data as bytes): the two threads do not take
    turns at the interpreter for the encoding.
    """

    batch: _Batch | None
    health: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)  # id, *health
    kpis: list[int] = field(default_factory=list)
    replaced_kpis: list[int] = field(default_factory=list)
    snapshots: list[int] = field(default_factory=list)
    replaced_snapshots: list[int] = field(default_factory=list)
    encoded: _Encoded | None = None

    def encode(self, computed_at: datetime) -> None:
        """PostgreSQL: the COPY lines and the keys of the rows they replace, made now;
        the batch is let go."""
        batch = self.batch
        assert batch is not None
        types, ids, healths = batch.record_types, batch.record_ids, batch.healths
        at = self.snapshots
        self.encoded = _Encoded(
            batch.kpis.copy_data(self.kpis, types, ids, computed_at),
            [(types[index], ids[index]) for index in self.replaced_kpis],
            _snapshot_data(
                [types[i] for i in at],
                [ids[i] for i in at],
                [healths[i] for i in at],
                computed_at.date(),
            ),
            [(types[i], ids[i], computed_at.date()) for i in self.replaced_snapshots],
        )
        self.batch = None

    def write(self, session: Session, now: datetime) -> None:
        at = {"health_updated_at": now}
        for record_type, rows in self.health.items():
            table = RECORD_TABLES[record_type]
            update_by_keys(session, table, ("id",), HEALTH_COLUMNS[:3], rows, constants=at)
        if self.encoded is None:  # SQLite
            self._replace_rows(session, now)
            return
        encoded = self.encoded
        delete_by_keys(session, KPI, KPI_KEY, encoded.replaced_kpis)
        copy_data(session, KPI, KPI_COLUMNS, [encoded.kpi_data])
        delete_by_keys(session, SNAPSHOT, SNAPSHOT_KEY, encoded.replaced_snapshots)
        copy_data(session, SNAPSHOT, SNAPSHOT_COLUMNS, [encoded.snapshot_data])

    def _replace_rows(self, session: Session, now: datetime) -> None:
        """SQLite: the KPI and snapshot rows as Python values, new ones inserted and the
        others updated (each one executemany)."""
        batch = self.batch
        assert batch is not None
        types, ids, healths, kpis = batch
        rows = [kpi_row(types[i], ids[i], kpis.values[i], kpis.digests[i], now) for i in self.kpis]
        _replace(session, KPI, KPI_KEY, KPI_COLUMNS, self.kpis, rows, self.replaced_kpis)
        day = now.date()
        snapshots = [(types[i], ids[i], day, *healths[i]) for i in self.snapshots]
        _replace(
            session,
            SNAPSHOT,
            SNAPSHOT_KEY,
            SNAPSHOT_COLUMNS,
            self.snapshots,
            snapshots,
            self.replaced_snapshots,
        )


def _replace(
    session: Session,
    table: sa.Table,
    key: Sequence[str],
    columns: Sequence[str],
    written: list[int],
    rows: list[tuple[Any, ...]],
    replaced: list[int],
) -> None:
    """SQLite: `rows` (the rows of the batch's `written` indexes, in `columns` order,
    which begins with the `key` columns) written: those of the `replaced` indexes
    update the row of their key, the others are inserted."""
    replacing = set(replaced)
    new = [row for index, row in zip(written, rows, strict=True) if index not in replacing]
    changed = [row for index, row in zip(written, rows, strict=True) if index in replacing]
    update_rows(session, table, key, columns[len(key) :], changed)
    insert_rows(session, table, columns, new)


class _Encoded(NamedTuple):
    """A batch's rows as COPY text format (PostgreSQL), and the keys of the rows they
    replace."""

    kpi_data: bytes
    replaced_kpis: list[tuple[Any, ...]]
    snapshot_data: bytes
    replaced_snapshots: list[tuple[Any, ...]]


def _changes(
    results: Sequence[RecordResult], stored: StoredState, counts: WritebackCounts
) -> _Changes:
    """Sort a batch's results into what changed, against `stored` (kept up to date):
    each comparison made for the whole batch by C-level calls (map, compress) over its
    columns, as is every record's KPI digest (KpiBatch)."""
    batch = _Batch.of(results)
    types, ids, healths, kpis = batch
    keys = list(zip(types, ids, strict=True))
    _each_once(keys)
    changes = _Changes(batch)
    # A record that has no row in its table (gone from the CRM) keeps none.
    updated = _differing(keys, healths, stored.health, healths)
    for index in updated:
        changes.health.setdefault(types[index], []).append((ids[index], *healths[index]))
    for record_type, updates in Counter([types[index] for index in updated]).items():
        counts.by_type[record_type] = counts.by_type.get(record_type, 0) + updates
    changes.kpis, changes.replaced_kpis = _written(keys, kpis.digests, stored.kpis)
    changes.snapshots, changes.replaced_snapshots = _written(keys, healths, stored.snapshots)
    counts.records_updated += len(updated)
    counts.kpis_written += len(changes.kpis)
    counts.snapshots_written += len(changes.snapshots)
    touched = {*updated, *changes.kpis, *changes.snapshots}
    counts.unchanged += len(keys) - len(touched)
    return changes


def _each_once(keys: list[tuple[str, str]]) -> None:
    """Every comparison of a batch is made against the stored state as it was before the
    batch (`_differing`): a record twice in one batch would be written twice (two KPI
    rows of one key in one COPY). A run scores each record once; this makes sure."""
    if len(set(keys)) != len(keys):
        twice = sorted(key for key, count in Counter(keys).items() if count > 1)
        raise ValueError(f"a write-back batch holds records more than once: {twice[:5]}")


def _differing(
    keys: list[tuple[str, str]],
    values: Sequence[Any],
    stored: dict[tuple[str, str], Any],
    missing: Iterable[Any],
) -> list[int]:
    """The indexes of the keys whose stored value is not their value (`missing`: what
    a key without a stored value compares with), `stored` updated to them."""
    differing = list(compress(range(len(keys)), map(ne, map(stored.get, keys, missing), values)))
    stored.update((keys[index], values[index]) for index in differing)
    return differing


def _written(
    keys: list[tuple[str, str]], values: Sequence[Any], stored: dict[tuple[str, str], Any]
) -> tuple[list[int], list[int]]:
    """The indexes of the rows to write (their value is not the stored one, or none is
    stored), and of those among them that replace a stored row."""
    had = list(map(stored.__contains__, keys))
    written = _differing(keys, values, stored, repeat(_NO_ROW))
    return written, [index for index in written if had[index]]


_NO_ROW: Any = object()  # a key the stored state has no row for


def write_back(
    engine: Engine,
    results: Iterable[RecordResult],
    *,
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    records: Collection[tuple[str, str]] | None = None,
) -> WritebackCounts:
    """Persist results; one transaction per batch so a failure loses at most one batch.
    The caller records the deals that closed (`record_closes`) once every process
    has written its share. `records`: the (record type, id) of every result to come,
    when they are a small part of the book (a tick's), so that only their stored
    state is read (load_stored_state)."""
    counts = WritebackCounts()
    day = now.date()
    if engine.dialect.name != "postgresql":
        # SQLite writes in this process, one batch after the other: nothing to overlap.
        stored = _stored_state(engine, day, records).stored
        for batch in chunks(results, batch_size):
            _write(engine, _changes(batch, stored, counts), now, lz4=False)
        return counts
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stored-state") as reader:
        # The server reads the stored state while this process scores the first batch
        # (`results` are made as they are taken), and writes one batch while this
        # process scores the next (write_all_behind).
        reading = reader.submit(_stored_state, engine, day, records)

        def sorted_out(batch: list[RecordResult]) -> _Changes:
            changes = _changes(batch, reading.result().stored, counts)
            changes.encode(now)
            return changes

        def write(changes: _Changes) -> None:
            _write(engine, changes, now, lz4=reading.result().lz4)

        write_all_behind(write, (sorted_out(batch) for batch in chunks(results, batch_size)))
        reading.result()  # with nothing to write, a failed read is raised here
    return counts


class _StateRead(NamedTuple):
    stored: StoredState
    lz4: bool  # the server compresses with lz4 when asked (_lz4_available)


def _stored_state(
    engine: Engine, day: date, records: Collection[tuple[str, str]] | None
) -> _StateRead:
    with session_scope(engine) as session:
        stored = load_stored_state(session=session, day=day, records=records)
        return _StateRead(stored, is_postgres(session) and _lz4_available(session))


def _write(engine: Engine, changes: _Changes, now: datetime, *, lz4: bool) -> None:
    """One batch's changes, in a transaction of their own."""
    with session_scope(engine) as session:
        if lz4:
            session.execute(sa.text("SET LOCAL default_toast_compression = lz4"))
        changes.write(session, now)


def _lz4_available(session: Session) -> bool:
    """Whether this PostgreSQL server compresses large values with lz4 when asked.

    A KPI row's JSON lists (the weekly timeline most of all) pass the size at which
    PostgreSQL compresses a row's values; its default compression (pglz) cost the
    server about a fifth of the time of writing them. lz4 (PostgreSQL 14 and later,
    when built with it) does the same faster; reading is transparent either way.
    """
    query = sa.text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    return bool(session.execute(query).scalar())


CLOSED_STATUSES = ("won", "lost")


def record_closes(*, session: Session, day: date) -> int:
    """A won or lost deal keeps its KPI row and health as at close: it is no longer
    scored (worker.run.scopes), so nothing rewrites them. Its close goes into its history
    once: a health_snapshot row on the close day (`actual_close_date`, or `day` when
    unknown or later) with the health it closed with and `closed_as` won or lost.
    Only deals that were scored (they have a KPI row) are recorded. Returns how many."""
    deals = RECORD_TABLES["opportunity"]
    scored = sa.exists().where(KPI.c.record_type == "opportunity", KPI.c.record_id == deals.c.id)
    recorded = sa.exists().where(
        SNAPSHOT.c.record_type == "opportunity",
        SNAPSHOT.c.record_id == deals.c.id,
        SNAPSHOT.c.closed_as.is_not(None),
    )
    query = (
        sa.select(
            deals.c.id,
            deals.c.status,
            deals.c.actual_close_date,
            deals.c.health_score,
            deals.c.health_state,
            deals.c.health_trend,
        )
        .where(deals.c.status.in_(CLOSED_STATUSES), scored, ~recorded)
        .order_by(deals.c.id)
    )
    closes = 0
    for deal_id, status, closed_on, score, state, trend in session.execute(query).all():
        on = closed_on if closed_on is not None and closed_on <= day else day
        values = {
            "health_score": score,
            "health_state": state,
            "health_trend": trend,
            "closed_as": status,
        }
        key = (SNAPSHOT.c.record_type == "opportunity") & (SNAPSHOT.c.record_id == deal_id)
        key &= SNAPSHOT.c.day == on
        if session.execute(sa.update(SNAPSHOT).where(key).values(values)).rowcount == 0:  # type: ignore[attr-defined]
            row = {"record_type": "opportunity", "record_id": deal_id, "day": on, **values}
            session.execute(sa.insert(SNAPSHOT).values(row))
        closes += 1
    return closes
