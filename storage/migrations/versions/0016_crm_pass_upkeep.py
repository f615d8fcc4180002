"""the CRM pass keeps its digests' outcome counts, finds moved times by index, updates in place

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 16:40:00.000000

Two costs every tick paid in proportion to the book (about 0.3 s at 1M):

- The digests were counted by outcome on every pass (a scan of a million
  rows): the count is what tells a pass that the digest table is still what
  the last one left, and the base of its report. tick_state now keeps the
  counts (`crm_outcomes`), which each pass brings up to date from what it
  wrote (storage.crm_ingest). A statement that writes crm_activity_digest
  outside a CRM pass marks the table changed in crm_record_change, as 0012's
  triggers mark a record table: the next pass reads every activity and counts
  again. A pass writes its digests holding its row of interaction_log_pause
  (migration 0013: a transaction that accounts for what it writes itself), so
  its own writes mark nothing. Until a pass has stored them (after this
  upgrade) the counts are missing and the pass counts.
- The activities whose time crossed one of the moving bounds (the retention
  cutoff, now, the planning horizon) were found by a scan of every activity:
  on PostgreSQL an index on their time, COALESCE(start_at, end_at), makes it
  a range scan (about 0.12 s at 1M before). SQLite keeps the CRM's text and
  compares it by day, and SQLAlchemy cannot reflect an index on an
  expression there; its stores are small: no index.

And a pass rewrites, for each activity it derives, its digest row and often
its interaction row in place. PostgreSQL can do that without touching the
indexes (a heap-only update) only when the row's page has room: the two
tables now leave a tenth of each page free (fillfactor 90; pages written
from now on, a first ingest's included). At 300k, 3,000 digests upserted
wrote 6,000 WAL records instead of 15,000 (0.04-0.05 s against 0.06-0.12);
1,500 interactions' opens updated wrote 1,500 instead of 9,000 (0.02 s
against 0.03-0.05), for about a tenth more pages.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME_INDEX = "ix_crm_activity_occurred_at"
DIGESTS = "crm_activity_digest"
PAUSED = "EXISTS (SELECT 1 FROM interaction_log_pause)"
MARK = f"INSERT INTO crm_record_change (table_name) VALUES ('{DIGESTS}')"
EVENTS = ("insert", "update", "delete")
ROOM_LEFT = ("crm_activity_digest", "interaction")  # rewritten in place by every pass


def upgrade() -> None:
    with op.batch_alter_table("tick_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("crm_outcomes", sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {TIME_INDEX} ON crm_activity (COALESCE(start_at, end_at))")
        _postgres_trigger()
        for table in ROOM_LEFT:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 90)")
    else:
        _sqlite_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS rapport_digest_written_logged ON {DIGESTS}")
        op.execute("DROP FUNCTION IF EXISTS rapport_digests_changed()")
        op.execute(f"DROP INDEX IF EXISTS {TIME_INDEX}")
        for table in ROOM_LEFT:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    else:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS rapport_{DIGESTS}_{event}_logged")
    # Before 0016 the log names record tables only: a mark left by the trigger would read
    # as a changed record table (a needless regrade, the digest table in the report).
    op.execute(f"DELETE FROM crm_record_change WHERE table_name = '{DIGESTS}'")
    with op.batch_alter_table("tick_state", schema=None) as batch_op:
        batch_op.drop_column("crm_outcomes")


def _postgres_trigger() -> None:
    # One statement trigger: a pass writes its digests in a few statements, and a
    # statement that writes none outside a pass costs one full pass at worst.
    op.execute(
        "CREATE FUNCTION rapport_digests_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\nIF NOT {PAUSED} THEN\n  {MARK};\nEND IF;\nRETURN NULL;\nEND\n$$"
    )
    op.execute(
        f"CREATE TRIGGER rapport_digest_written_logged AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
        f" ON {DIGESTS} FOR EACH STATEMENT EXECUTE FUNCTION rapport_digests_changed()"
    )


def _sqlite_triggers() -> None:
    # SQLite has row triggers only: the table is marked once (as 0012 marks a record table).
    mark = (
        f"INSERT INTO crm_record_change (table_name) SELECT '{DIGESTS}' WHERE NOT EXISTS"
        f" (SELECT 1 FROM crm_record_change WHERE table_name = '{DIGESTS}')"
    )
    for event in EVENTS:
        op.execute(
            f"CREATE TRIGGER rapport_{DIGESTS}_{event}_logged AFTER {event.upper()} ON {DIGESTS}"
            f" WHEN NOT {PAUSED}\nBEGIN\n  {mark};\nEND"
        )
