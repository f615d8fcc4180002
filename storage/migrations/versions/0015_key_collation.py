"""ids and keys compared byte by byte on PostgreSQL (COLLATE "C")

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 10:40:00.000000

Every column that holds a record's type or id, an activity id or an
interaction key is declared in the "C" collation on PostgreSQL: it sorts by
bytes, as SQLite and Python's str do. Two reasons. Speed: a first ingest
builds the indexes of a million interactions and two million party rows, and
PostgreSQL sorts "C" text with abbreviated keys and memcmp, while a locale
(even C.UTF-8) goes through strcoll for every comparison (bench/ingest.py,
side by side: the builds, keys and foreign-key check 2.0 s against 3.4 s at
200k, 9.8 s against 12.6 s at 1M, both under load). Agreement: where the database picks "the
smaller id" (storage.directory: two contacts sharing an address) it now
picks the one Python's min() would, whatever the database's locale.
Equality is the same in every deterministic collation: no row matches
anything it did not match before.

The tables are not rewritten (the type stays varchar); the indexes on these
columns are rebuilt. SQLite compares bytes already: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The key columns of each table, as of this revision (all varchar).
KEY_COLUMNS = {
    "system_user": ("id",),
    "account": ("id", "primary_contact_id", "owner_id"),
    "contact": ("id", "account_id"),
    "lead": ("id", "owner_id"),
    "opportunity": ("id", "account_id", "owner_id", "customer_contact_id"),
    "opportunity_stakeholder": ("opportunity_id", "contact_id"),
    "crm_activity": ("id", "owner_id", "regarding_type", "regarding_id"),
    "crm_activity_party": ("activity_id", "record_type", "record_id"),
    "crm_activity_change": ("activity_id",),
    "crm_activity_digest": ("activity_id", "interaction_key"),
    "crm_activity_recheck": ("activity_id",),
    "crm_person_change": ("record_type", "record_id", "account_id"),
    "interaction": ("key", "crm_activity_id", "regarding_type", "regarding_id"),
    "interaction_change": ("key", "regarding_type", "regarding_id"),
    "interaction_party": ("interaction_key", "record_type", "record_id", "role"),
    "interaction_sighting": ("interaction_key",),
    "relationship_kpi": ("record_type", "record_id", "weakest_contact_id"),
    "health_snapshot": ("record_type", "record_id"),
    "introducer": ("record_type", "record_id", "system_user_id"),
    "tick_pending_record": ("record_type", "record_id"),
    "mailbox": ("system_user_id",),
    "dataverse_party": ("activity_id", "record_type", "record_id"),
    "dataverse_stakeholder": ("opportunity_id", "contact_id"),
    "dataverse_push": ("record_type", "record_id"),
}


def upgrade() -> None:
    _collate('"C"')


def downgrade() -> None:
    _collate('pg_catalog."default"')


def _collate(collation: str) -> None:
    """One ALTER TABLE per table: its indexes are rebuilt once, not once per column."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in KEY_COLUMNS.items():
        changes = ", ".join(
            f'ALTER COLUMN "{column}" TYPE varchar COLLATE {collation}' for column in columns
        )
        op.execute(f'ALTER TABLE "{table}" {changes}')
