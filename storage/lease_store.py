"""Leases of worker replicas: claim, heartbeat, release; singleton-job locks; the watchdog.

Every function takes `now` (the caller's clock) and a session or connection
(the caller's transaction). Mailbox claims use `SELECT ... FOR UPDATE SKIP
LOCKED` on PostgreSQL, so replicas claiming at the same moment each get
different mailboxes; SQLite ignores the clause, and only one worker may use
a SQLite store anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from storage.lease_tables import Lease
from storage.mailbox_store import MAILBOX
from storage.types import core_table

LEASE = core_table(Lease)
MAILBOX_KIND, REPLICA_KIND, JOB_KIND = "mailbox", "replica", "job"
# Advisory lock keys (64-bit, PostgreSQL-wide): "RAPP" then a job number. "scoring"
# is also the store's run lock (worker/run/lock.py); every scoring process holds
# "scoring-process" shared for as long as it lives.
ADVISORY_KEYS = {
    "migrate": 0x5241505000000001,
    "scoring": 0x5241505000000002,
    "retention": 0x5241505000000003,
    "scoring-process": 0x5241505000000004,
    "news": 0x5241505000000005,
}
FORGET_REPLICAS_AFTER = timedelta(days=1)
CHUNK = 1000


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _insert_missing(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(LEASE).values(rows).on_conflict_do_nothing())


def _live(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(LEASE.c.holder.is_not(None), LEASE.c.expires_at > now)


def _claimable(mailbox_ids: Sequence[str], round_: int, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        LEASE.c.kind == MAILBOX_KIND,
        LEASE.c.key.in_(list(mailbox_ids)),
        sa.or_(LEASE.c.holder.is_(None), LEASE.c.expires_at <= now),
        sa.or_(LEASE.c.round.is_(None), LEASE.c.round < round_),
    )


def announce_replica(*, session: Session, replica: str, now: datetime, ttl: timedelta) -> None:
    """Register a running replica (or renew it); forget replicas gone for a day."""
    session.execute(
        sa.delete(LEASE).where(
            LEASE.c.kind == REPLICA_KIND, LEASE.c.expires_at < now - FORGET_REPLICAS_AFTER
        )
    )
    _insert_missing(session, [{"kind": REPLICA_KIND, "key": replica}])
    session.execute(
        sa.update(LEASE)
        .where(LEASE.c.kind == REPLICA_KIND, LEASE.c.key == replica)
        .values(holder=replica, acquired_at=now, heartbeat_at=now, expires_at=now + ttl)
    )


def live_replicas(*, session: Session, now: datetime) -> list[str]:
    query = sa.select(LEASE.c.key).where(LEASE.c.kind == REPLICA_KIND, _live(now))
    return list(session.scalars(query.order_by(LEASE.c.key)))


def heartbeat(*, session: Session, replica: str, now: datetime, ttl: timedelta) -> set[str]:
    """Extend every lease `replica` holds; return the mailboxes it still holds."""
    session.execute(
        sa.update(LEASE)
        .where(LEASE.c.holder == replica)
        .values(heartbeat_at=now, expires_at=now + ttl)
    )
    held = sa.select(LEASE.c.key).where(LEASE.c.kind == MAILBOX_KIND, LEASE.c.holder == replica)
    return set(session.scalars(held))


def claim_mailboxes(
    *,
    session: Session,
    replica: str,
    mailbox_ids: Sequence[str],
    round_: int,
    now: datetime,
    ttl: timedelta,
    limit: int,
) -> list[str]:
    """Lease up to `limit` of `mailbox_ids` not yet synced in `round_` and not held by
    a live replica, least recently synced first."""
    for chunk in _chunks(list(mailbox_ids)):
        _insert_missing(session, [{"kind": MAILBOX_KIND, "key": key} for key in chunk])
    if limit <= 0 or not mailbox_ids:
        return []
    candidates = (
        sa.select(LEASE.c.key)
        .where(_claimable(mailbox_ids, round_, now))
        .order_by(LEASE.c.completed_at.asc().nulls_first(), LEASE.c.key)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = list(session.scalars(candidates))
    if claimed:
        session.execute(
            sa.update(LEASE)
            .where(LEASE.c.kind == MAILBOX_KIND, LEASE.c.key.in_(claimed))
            .values(holder=replica, acquired_at=now, heartbeat_at=now, expires_at=now + ttl)
        )
    return claimed


def count_claimable(
    *, session: Session, mailbox_ids: Sequence[str], round_: int, now: datetime
) -> int:
    """How many of `mailbox_ids` nobody has synced in `round_` or holds now."""
    query = sa.select(sa.func.count()).where(_claimable(mailbox_ids, round_, now))
    return int(session.execute(query).scalar() or 0)


def release_mailboxes(
    *, session: Session, replica: str, synced: Sequence[str], round_: int, now: datetime
) -> None:
    """Free every mailbox lease `replica` holds; the `synced` ones count as done for
    `round_`, the others (a shutdown cut them short) may be taken over in the same round."""
    mine = sa.and_(LEASE.c.kind == MAILBOX_KIND, LEASE.c.holder == replica)
    for chunk in _chunks(list(synced)):
        session.execute(
            sa.update(LEASE)
            .where(mine, LEASE.c.key.in_(chunk))
            .values(round=round_, completed_at=now, holder=None, expires_at=None)
        )
    session.execute(sa.update(LEASE).where(mine).values(holder=None, expires_at=None))


def release_replica(*, session: Session, replica: str) -> None:
    """A clean stop: every lease of `replica` is freed and it leaves the replica list."""
    session.execute(
        sa.update(LEASE)
        .where(LEASE.c.holder == replica, LEASE.c.kind != REPLICA_KIND)
        .values(holder=None, expires_at=None)
    )
    session.execute(sa.delete(LEASE).where(LEASE.c.kind == REPLICA_KIND, LEASE.c.key == replica))


def job_started(*, session: Session, job: str, replica: str, now: datetime) -> None:
    _insert_missing(session, [{"kind": JOB_KIND, "key": job}])
    session.execute(
        sa.update(LEASE)
        .where(LEASE.c.kind == JOB_KIND, LEASE.c.key == job)
        .values(holder=replica, acquired_at=now, heartbeat_at=now)
    )


def job_completed(*, session: Session, job: str, now: datetime) -> None:
    session.execute(
        sa.update(LEASE)
        .where(LEASE.c.kind == JOB_KIND, LEASE.c.key == job)
        .values(holder=None, completed_at=now)
    )


def last_job_run(*, session: Session, job: str) -> tuple[datetime | None, datetime | None]:
    """When `job` last started and last completed, on any replica."""
    row = session.execute(
        sa.select(LEASE.c.acquired_at, LEASE.c.completed_at).where(
            LEASE.c.kind == JOB_KIND, LEASE.c.key == job
        )
    ).first()
    return (row.acquired_at, row.completed_at) if row else (None, None)


def load_leases(*, session: Session) -> list[dict[str, Any]]:
    query = sa.select(LEASE).order_by(LEASE.c.kind, LEASE.c.key)
    return [row._asdict() for row in session.execute(query)]


def reset_stuck_mailboxes(
    *, session: Session, now: datetime, ttl: timedelta, limit: timedelta
) -> list[tuple[str, str]]:
    """Mailboxes left in "syncing" by a replica that died (no live lease, for longer
    than a lease lasts) or stuck longer than `limit`: set "interrupted" with the reason.
    Their committed cursors stay; the next round resumes from them."""
    held = sa.exists().where(LEASE.c.kind == MAILBOX_KIND, LEASE.c.key == MAILBOX.c.id, _live(now))
    query = sa.select(MAILBOX.c.id, MAILBOX.c.syncing_since, held.label("held")).where(
        MAILBOX.c.status == "syncing",
        sa.or_(
            MAILBOX.c.syncing_since.is_(None),
            MAILBOX.c.syncing_since < now - limit,
            sa.and_(MAILBOX.c.syncing_since < now - ttl, ~held),
        ),
    )
    reset: list[tuple[str, str]] = []
    for mailbox_id, since, is_held in session.execute(query).all():
        started = since.isoformat() if since else "an unknown time"
        reason = (
            f"watchdog: syncing since {started}, longer than {limit.total_seconds():g} s"
            if is_held
            else f"watchdog: syncing since {started} but no worker holds it (the worker "
            "stopped or lost the database)"
        ) + "; the next round resumes from the last committed page"
        session.execute(
            sa.update(MAILBOX)
            .where(MAILBOX.c.id == mailbox_id, MAILBOX.c.status == "syncing")
            .values(status="interrupted", syncing_since=None, last_error=reason)
        )
        reset.append((mailbox_id, reason))
    return reset


def try_advisory_lock(connection: Connection, name: str) -> bool:
    """PostgreSQL only: take the session-level lock `name` if nobody holds it."""
    key = ADVISORY_KEYS[name]
    return bool(connection.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar())


def advisory_lock(connection: Connection, name: str) -> None:
    """PostgreSQL only: wait for the session-level lock `name`."""
    connection.execute(sa.select(sa.func.pg_advisory_lock(ADVISORY_KEYS[name])))


def advisory_unlock(connection: Connection, name: str) -> None:
    connection.execute(sa.select(sa.func.pg_advisory_unlock(ADVISORY_KEYS[name])))


def advisory_lock_shared(connection: Connection, name: str) -> None:
    """PostgreSQL only: wait for `name` in shared mode (many holders, no exclusive one)."""
    connection.execute(sa.select(sa.func.pg_advisory_lock_shared(ADVISORY_KEYS[name])))


def advisory_holders(connection: Connection, name: str) -> list[tuple[str, int]]:
    """PostgreSQL only: (application_name, server pid) of every session holding `name`.

    A one-key advisory lock shows in pg_locks as classid = the key's high 32 bits,
    objid = its low 32 bits, objsubid = 1. Advisory locks belong to a database: the
    same key held by a store in another database of the server is not this store's
    holder (pg_locks shows every database's)."""
    key = ADVISORY_KEYS[name]
    query = sa.text(
        "SELECT a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a"
        " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND l.classid::bigint = :high AND l.objid::bigint = :low AND l.objsubid = 1"
        " AND l.pid <> pg_backend_pid() ORDER BY a.backend_start"
    )
    rows = connection.execute(query, {"high": key >> 32, "low": key & 0xFFFFFFFF})
    return [(str(row[0] or "?"), int(row[1])) for row in rows]
