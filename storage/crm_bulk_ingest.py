"""The first CRM ingest on PostgreSQL, derived in SQL: activities never become Python objects.

A first ingest (no interaction stored, no digest kept) derives every
activity. Done activity by activity in Python (storage.crm_activity_rules)
that cost ~100 us each: minutes for a million. Here the same rules run as a
few set-based statements over the CRM tables (storage.crm_bulk_sql), joined
to the directory (the matches storage.directory makes, uploaded as temporary
tables, so who matches whom is decided in one place), and write the
interactions, their parties and the digests.

PostgreSQL runs a statement in one backend, on one core. So the activities
are split in SHARES by their id, and each share is derived at the same time
on a connection of its own: the caller's transaction derives and inserts
share 0, a helper connection (a transaction of its own that writes only
temporary tables, gone with it) derives the others, whose rows are then
streamed into the caller's transaction with binary COPY. Everything written
belongs to the caller's transaction: a failure anywhere writes nothing.

Only clean activities go this way: every value inside the contract, every
address plain ASCII (so SQL's trim and lower are Python's), a duration in
whole seconds, an interaction key no other activity shares. The rest (rows
with problems to report, unusual text) are returned and derived by the
Python rules, which name each problem (storage.crm_ingest); routing a clean
row there as well is never wrong, only slower. tests/storage/test_crm_bulk_ingest.py
holds the two ways to the same interactions, digests and report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from storage.bulk import COPY_NULL, copy_text
from storage.crm_activity_rules import TimeWindow
from storage.crm_bulk_sql import (
    DERIVATION,
    LEFT_TO_PYTHON,
    OUTCOME_COUNTS,
    OUTPUTS,
    SHARE_BUCKETS,
    SHARES,
    TEMPORARY,
)
from storage.crm_digests import digest_context
from storage.directory import Directory
from storage.raw_rows import raw_rows

# For the rest of the transaction: each sort and hash of a share in memory (per
# connection), and no JIT: compiling a statement cost ~0.2 s of CPU, more than it saved.
PLANNER = ("work_mem = '256MB'", "jit = off")
COPY_BATCH = 1 << 20  # bytes of the helper's rows per write into the caller's COPY

# What Python's str.strip() strips (str.isspace): a message id is stripped so for its key.
# Written out: finding them among all 1.1M characters cost 0.3 s of every first ingest
# (tests/storage/test_crm_bulk_ingest.py holds the two equal).
SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)

# For the derivation only: the temporary tables have no statistics, and without them
# the planner sorts both sides of a join where hashing the smaller one costs less; the
# shares are the parallelism (a parallel worker per share would only compete with them).
DERIVATION_PLANNER = ("enable_mergejoin = off", "max_parallel_workers_per_gather = 0")


@dataclass
class BulkOutcome:
    """What the SQL pass did, and the activities it left to the Python rules."""

    derived: int  # activities derived in SQL
    outcomes: dict[str, int]  # how many of them had each outcome
    rest: set[str]  # activity ids for the Python rules


@dataclass(frozen=True)
class _Upload:
    """A temporary table of the directory: its name, its columns, its COPY text."""

    name: str
    columns: str
    lines: str


def bulk_first_ingest(
    session: Session,
    *,
    directory: Directory,
    covered: Mapping[str, datetime],
    not_before: datetime | None,
    window: TimeWindow,
) -> BulkOutcome:
    """Derive and write every clean activity (PostgreSQL, nothing stored yet)."""
    uploads = _uploads(session, directory, covered)
    params = {
        "context": digest_context(covered),
        "not_before": not_before,
        "soon": window.completed_until,
        "latest": window.latest,
        "spaces": SPACES,
    }
    main = session.connection()
    # The helpers close after their threads end: the pool is left (and waited for) first.
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=SHARES - 1) as pool:
        helpers = [stack.enter_context(main.engine.connect()) for _ in range(1, SHARES)]
        # A helper also counts its outcomes while this connection writes its own share.
        derived = [
            pool.submit(_derive_and_count, helper, share, uploads, params)
            for share, helper in enumerate(helpers, start=1)
        ]
        _derive(main, 0, uploads, params)
        for table, columns, rows in OUTPUTS:
            main.exec_driver_sql(f"INSERT INTO {table} ({columns}) {rows}")
        outcome = _outcome(main)
        for helper, done in zip(helpers, derived, strict=True):
            outcome = _sum(outcome, done.result())
            _copy_share(helper, main)
    for setting in DERIVATION_PLANNER:
        main.exec_driver_sql(f"SET LOCAL {setting.split()[0]} TO DEFAULT")
    for table in TEMPORARY:
        main.exec_driver_sql(f"DROP TABLE rapport_bulk_{table}")
    for upload in uploads:
        main.exec_driver_sql(f"DROP TABLE {upload.name}")
    return outcome


def _outcome(share: Connection) -> BulkOutcome:
    """What a share derived, and what it left to the Python rules."""
    counts = {outcome: int(count) for outcome, count in share.exec_driver_sql(OUTCOME_COUNTS)}
    rest = {activity_id for (activity_id,) in share.exec_driver_sql(LEFT_TO_PYTHON)}
    return BulkOutcome(sum(counts.values()), counts, rest)


def _sum(first: BulkOutcome, second: BulkOutcome) -> BulkOutcome:
    outcomes = Counter(first.outcomes) + Counter(second.outcomes)
    return BulkOutcome(first.derived + second.derived, dict(outcomes), first.rest | second.rest)


def _derive_and_count(
    connection: Connection, share: int, uploads: Sequence[_Upload], params: dict[str, Any]
) -> BulkOutcome:
    _derive(connection, share, uploads, params)
    return _outcome(connection)


def _derive(
    connection: Connection, share: int, uploads: Sequence[_Upload], params: dict[str, Any]
) -> None:
    """Derive the activities of `share` into this connection's temporary tables."""
    for setting in (*PLANNER, *DERIVATION_PLANNER):
        connection.exec_driver_sql(f"SET LOCAL {setting}")
    driver = _driver(connection)
    for upload in uploads:
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE {upload.name} ({upload.columns}) ON COMMIT DROP"
        )
        with driver.cursor() as cursor, cursor.copy(f"COPY {upload.name} FROM STDIN") as copy:
            copy.write(upload.lines)
        connection.exec_driver_sql(f"ANALYZE {upload.name}")
    first, end = SHARE_BUCKETS[share]
    for statement in DERIVATION:
        connection.execute(sa.text(statement), {**params, "first": first, "end": end})


def _copy_share(helper: Connection, main: Connection) -> None:
    """The rows a helper derived, streamed into the main transaction's tables."""
    source, target = _driver(helper), _driver(main)
    for table, columns, rows in OUTPUTS:
        with (
            source.cursor() as reading,
            reading.copy(f"COPY ({rows}) TO STDOUT (FORMAT binary)") as copied,
            target.cursor() as writing,
            writing.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT binary)") as written,
        ):
            # The server sends a row per message: handed on a megabyte at a time, the
            # rows cost the copy's Python a third less (~0.6 us a row, 2M rows at 1M).
            batch = bytearray()
            for row in copied:
                batch += row
                if len(batch) >= COPY_BATCH:
                    written.write(batch)
                    batch = bytearray()
            if batch:
                written.write(batch)


def _driver(connection: Connection) -> psycopg.Connection[Any]:
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver


def _uploads(
    session: Session, directory: Directory, covered: Mapping[str, datetime]
) -> list[_Upload]:
    """The directory's matches, Exchange's coverage and the erased "regarding" records."""
    tables: Sequence[tuple[str, str, Iterable[Sequence[str | None]]]] = (
        (
            "known",
            _keyed("record_type, record_id", "PRIMARY KEY (record_type, record_id)"),
            directory.known,
        ),
        (
            "address",
            _keyed("address, record_type, record_id", "PRIMARY KEY (address)"),
            ((address, *record) for address, record in directory.by_address.items()),
        ),
        (
            "covered",
            _keyed("user_id", "since timestamptz, PRIMARY KEY (user_id)"),
            ((user, since.isoformat()) for user, since in covered.items()),
        ),
        (
            "erased",
            _keyed("regarding_type, regarding_id"),
            _erased_regarding(session, directory),
        ),
    )
    return [
        _Upload(
            f"rapport_bulk_{name}",
            columns,
            "".join(
                "\t".join(COPY_NULL if value is None else copy_text(value) for value in row) + "\n"
                for row in rows
            ),
        )
        for name, columns, rows in tables
    ]


def _keyed(columns: str, *rest: str) -> str:
    """Text columns in the "C" collation, as the columns they are joined to (migration 0015)."""
    keys = [f'{column} text COLLATE "C"' for column in columns.split(", ")]
    return ", ".join((*keys, *rest))


def _erased_regarding(session: Session, directory: Directory) -> list[tuple[str, str]]:
    """The "regarding" records of activities that were erased (storage.suppression)."""
    if not directory.erased and not directory.erased_records:
        return []
    query = (
        "SELECT DISTINCT regarding_type, regarding_id FROM crm_activity"
        " WHERE regarding_type IS NOT NULL AND regarding_id IS NOT NULL"
    )
    return [
        (kind, key) for kind, key in raw_rows(session, query) if directory.record_erased(kind, key)
    ]
