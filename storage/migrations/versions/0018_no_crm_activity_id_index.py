"""interaction.crm_activity_id loses its index: no query reads through it

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 20:30:00.000000

crm_activity_id is an interaction's provenance, written and exported but never
looked up: the CRM pass finds an activity's interaction through
crm_activity_digest.interaction_key (an activity whose email has a message id
holds a "msg:" key, not "crm:<id>"), erasure and retention go by key or by
party, and no query filters, joins or orders by the column. Its index only
cost writes: every update of a time (occurred_at is indexed, so not heap-only)
added an entry to it too. At 1M interactions, a 1 % tick's CRM pass moving
4,954 interactions' times logged 79 MB of write-ahead log without it against
100 MB with it (0.18 s against 0.23). A first ingest no longer builds it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_interaction_crm_activity_id"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="interaction")


def downgrade() -> None:
    op.create_index(INDEX, "interaction", ["crm_activity_id"], unique=False)
