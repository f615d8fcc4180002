"""What incremental ticks rest on: change logs filled by the database, and the tick's state.

A tick reads what changed since the last one instead of the whole book
(storage.tick_changes, worker.run.tick). The CRM writes its tables directly,
by any path (`rapport crm import`, the Dataverse pull, its own SQL), so the
changes are noticed by triggers (migration 0012), not by each writer:

- `crm_activity_change`: the id of every CRM activity inserted, updated or
  deleted, or whose party rows were (deletions included, so nothing is missed).
- `crm_record_change`: which record tables (users, accounts, contacts, leads,
  deals, stakeholders, erased subjects) changed in a column Rapport reads;
  Rapport's own `health_*` columns do not count. A contact or lead inserted
  or updated is logged by row instead (`crm_person_change`, migration 0014);
  only a deleted one, or one whose id changed, marks its table. So does a
  write to `crm_activity_digest` by anyone but a CRM pass (migration 0016):
  the counts the passes keep no longer hold, and the next pass reads every
  activity.
- `crm_person_change`: each contact or lead row inserted, or updated in a
  column Rapport reads, as it was and as it is: its id, a contact's account,
  its addresses. The activities those addresses and ids match are derived
  again, and the records the row feeds scored again.
- `interaction_change`: every interaction row written or deleted, by anyone
  (the CRM path, Exchange, retention, erasure), with its parties and
  "regarding" record before and after, so the records it touched are known.

A log is consumed, not read up to a watermark: PostgreSQL hands out sequence
values in the order rows are inserted, not committed, so a watermark could
step over a row that commits late. A consumer deletes exactly the rows it
read, in the transaction that acts on them.

`tick_pending_record` holds records an interaction change touched that are
not scored yet (kept across a failed tick); `crm_activity_recheck` the
activities that carried a problem and are derived, and reported, on every
tick until the CRM corrects them; `tick_state` one row: the inputs the last
CRM pass was derived against, how many digests it left by outcome (kept up to
date by each pass instead of counted on every tick), and the last full regrade.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.rapport_tables import CrmActivityDigest
from storage.types import KEY_TEXT, UTCDateTime, core_table

TICK_STATE_ID = 1  # the one row of tick_state


def _seq() -> sa.Column[int]:
    return sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


class CrmActivityChange(SQLModel, table=True):
    __tablename__ = "crm_activity_change"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: int | None = Field(default=None, sa_column=_seq())
    activity_id: str = Field(sa_type=KEY_TEXT)


class CrmRecordChange(SQLModel, table=True):
    __tablename__ = "crm_record_change"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: int | None = Field(default=None, sa_column=_seq())
    table_name: str


class CrmPersonChange(SQLModel, table=True):
    __tablename__ = "crm_person_change"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: int | None = Field(default=None, sa_column=_seq())
    record_type: str = Field(sa_type=KEY_TEXT)  # "contact" or "lead"
    record_id: str = Field(sa_type=KEY_TEXT)
    account_id: str | None = Field(default=None, sa_type=KEY_TEXT)  # a contact's
    email: str | None = None
    email2: str | None = None
    email3: str | None = None


class InteractionChange(SQLModel, table=True):
    __tablename__ = "interaction_change"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: int | None = Field(default=None, sa_column=_seq())
    key: str = Field(sa_type=KEY_TEXT)
    parties: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    regarding_type: str | None = Field(default=None, sa_type=KEY_TEXT)
    regarding_id: str | None = Field(default=None, sa_type=KEY_TEXT)


class TickPendingRecord(SQLModel, table=True):
    __tablename__ = "tick_pending_record"

    record_type: str = Field(primary_key=True, sa_type=KEY_TEXT)
    record_id: str = Field(primary_key=True, sa_type=KEY_TEXT)


class CrmActivityRecheck(SQLModel, table=True):
    __tablename__ = "crm_activity_recheck"

    activity_id: str = Field(primary_key=True, sa_type=KEY_TEXT)


class InteractionLogPause(SQLModel, table=True):
    __tablename__ = "interaction_log_pause"

    id: int = Field(default=1, primary_key=True)


class TickState(SQLModel, table=True):
    __tablename__ = "tick_state"

    id: int = Field(default=TICK_STATE_ID, primary_key=True)
    # What the last CRM pass derived every activity against (storage.crm_digests).
    crm_context: str | None = None
    crm_not_before: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    crm_completed_until: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    crm_latest: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    crm_digests: int | None = None  # digest rows it left (before 0016 a recount checked them)
    # Those rows by outcome (migration 0016); None until a pass has counted them.
    crm_outcomes: dict[str, int] | None = Field(default=None, sa_column=sa.Column(sa.JSON()))
    # The last full regrade: its now, and the admin settings it ran under.
    regraded_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    settings_fingerprint: str | None = None
    # A record table changed since the last regrade (set with the CRM pass that saw it).
    regrade_due: bool = False


# Looked up by key when an activity changes: another activity may share its interaction.
sa.Index("ix_crm_activity_digest_interaction_key", core_table(CrmActivityDigest).c.interaction_key)
