"""Leases: which worker replica holds which piece of work, until when.

One table serves three kinds of lease:

- `mailbox`: the replica syncing that mailbox this round. `round` is the last
  sync round in which the mailbox was synced to its end, so a round syncs
  each mailbox once however many replicas run.
- `replica`: a running worker announcing itself; replicas share the
  mailboxes of a round among the live ones.
- `job`: bookkeeping of the singleton jobs (scoring, retention): who ran
  them last and when. Their mutual exclusion is a PostgreSQL advisory lock;
  scoring's is the store's run lock, which `rapport run --once` takes too
  (worker/run/lock.py; on SQLite a file lock).

A lease is live while `expires_at` is in the future; its holder moves
`expires_at` forward with a heartbeat. A holder that dies stops beating and
its leases lapse, so another replica takes the work over.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

LEASE_KINDS = ("mailbox", "replica", "job")


class Lease(SQLModel, table=True):
    __tablename__ = "lease"
    __table_args__ = (sa.Index("ix_lease_holder", "holder"),)

    kind: str = Field(primary_key=True)
    key: str = Field(primary_key=True)  # a mailbox id, a replica id, or a job name
    holder: str | None = None  # the replica id; None when free
    acquired_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    heartbeat_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    expires_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    round: int | None = None  # mailbox: last round synced to its end
    completed_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
