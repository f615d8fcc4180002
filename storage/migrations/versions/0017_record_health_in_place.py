"""the record tables leave room on each page, so writing health back updates in place

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:30:00.000000

Write-back sets the health columns of every record whose health changed
(storage.writeback), with an UPDATE per record type. No index holds those
columns, so PostgreSQL can update a row without touching the table's indexes
(a heap-only update) when the row's page has room for the new version; the
record tables filled their pages, so every update added an entry to each of
their indexes (contact: its key, email and account), and the dead ones left
behind made every later lookup by id walk past them until a vacuum. contact,
lead, opportunity and account now leave a tenth of each page free
(fillfactor 90; pages written from now on, a first ingest's included), as
migration 0016 did for the tables the CRM pass rewrites. At 200k interactions
(10,000 records), eight regrades in a row, each clearing the health and writing
it back: the health UPDATEs took 0.08-0.11 s each time at fillfactor 90, and
0.10-0.12 s growing to 0.20-0.31 s at 100, whose contact table had grown to
1,905 pages against 1,010.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROOM_LEFT = ("contact", "lead", "opportunity", "account")  # health written back in place


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ROOM_LEFT:
            op.execute(f'ALTER TABLE "{table}" SET (fillfactor = 90)')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ROOM_LEFT:
            op.execute(f'ALTER TABLE "{table}" RESET (fillfactor)')
