"""Serialising the writers of the same interaction keys across replicas (PostgreSQL).

Exchange page commits (one per mailbox folder page, on any replica) and the
CRM ingest write the same natural keys: an email logged in the CRM and also
seen in Exchange is one `msg:` key. Two writers that both find a key absent
would both insert it, or one would delete what the other just wrote. So every
writer locks what it will touch before reading what is stored, and holds the
locks until its transaction ends. Two granularities, as in a lock hierarchy:

- A page commit holds the *interaction gate* in shared mode plus an exclusive
  lock per key of its page, taken in ascending order (two pages never wait
  on each other in a cycle). Pages of different mailboxes run in parallel
  unless they share a key.
- The CRM ingest rewrites every CRM interaction in one transaction, so it
  holds the gate in exclusive mode: one lock, whatever the number of keys.
  A lock per key would not do: PostgreSQL keeps every lock held in one shared
  table of `max_locks_per_transaction` x connections entries (64 x 100 by
  default), and a 100,000-key ingest would run it out ("out of shared
  memory"), failing other transactions on the server too. (Hashing keys into
  buckets bounds that, but a full ingest then holds nearly every bucket
  anyway, and pages of different mailboxes collide on shared buckets and
  commit one at a time.)

The ingest waits for the pages in flight and holds new ones back until it
commits; a page waits for an ingest in flight. SQLite has a single writer,
but a transaction becomes it only at its first write, after its reads: a
worker's page and a `rapport run --once` beside it would both find a key
absent and both insert it. There both functions make the transaction the
writer first (a write that changes nothing), so the other waits and then
reads what this one committed.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session

from storage.engine import is_postgres

# Two-key advisory locks in their own namespaces (the one-key space holds the leases).
GATE_NAMESPACE = 0x5241  # "RA"
GATE = 1
KEY_NAMESPACE = 0x5242
CLOSE_GATE = sa.text("SELECT pg_advisory_xact_lock(:namespace, :gate)").bindparams(
    namespace=GATE_NAMESPACE, gate=GATE
)
# One round trip: the gate (shared), then the keys in the order given (sorted). A row's
# target list is computed after both sides of the join produced it, so the gate is
# always held before the first key is asked for.
LOCK_KEYS = sa.text(
    "SELECT pg_advisory_xact_lock(:key_namespace, key_lock)"
    " FROM (SELECT pg_advisory_xact_lock_shared(:gate_namespace, :gate)) AS gate,"
    " unnest(CAST(:key_locks AS integer[])) AS key_lock"
).bindparams(key_namespace=KEY_NAMESPACE, gate_namespace=GATE_NAMESPACE, gate=GATE)


# SQLite: takes the database's write lock (waiting for it) and changes nothing.
BECOME_SQLITE_WRITER = sa.text("UPDATE interaction SET key = key WHERE 0")


def key_lock(key: str) -> int:
    """The lock id of one interaction key: stable across processes and replicas."""
    return zlib.crc32(key.encode()) - 2**31  # a signed 32-bit integer


def lock_interaction_keys(session: Session, keys: Iterable[str]) -> None:
    """Hold these keys (and the gate, shared) until this transaction ends.

    Call it before reading what is stored for the keys: under READ COMMITTED,
    every statement after it sees what the previous holder committed. Locks
    this transaction already holds are granted again at once.
    """
    if not is_postgres(session):
        become_sqlite_writer(session)
        return
    key_locks = sorted({key_lock(key) for key in keys})
    if key_locks:
        # An array literal: psycopg would adapt a list of a page's keys value by value.
        session.execute(LOCK_KEYS, {"key_locks": "{" + ",".join(map(str, key_locks)) + "}"})


def lock_all_interactions(session: Session) -> None:
    """Hold every interaction key until this transaction ends (one lock: the gate)."""
    if is_postgres(session):
        session.execute(CLOSE_GATE)
    else:
        become_sqlite_writer(session)


def become_sqlite_writer(session: Session) -> None:
    """SQLite: make this transaction the store's one writer now, before it reads what
    it will change (waiting for a writer in flight). Nothing on PostgreSQL."""
    if not is_postgres(session):
        session.execute(BECOME_SQLITE_WRITER)
