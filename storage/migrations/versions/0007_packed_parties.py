"""interaction.parties, interaction.party_count: the party rows copied onto each interaction

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.packed_parties import copy_packed_parties

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Adding columns needs no table rebuild on SQLite, even in batch mode.
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parties", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("party_count", sa.Integer(), nullable=False, server_default="0")
        )
    # Interactions without party rows keep the defaults (NULL, 0), which say just that.
    op.execute(copy_packed_parties(op.get_bind().dialect.name))


def downgrade() -> None:
    # Never a rebuild here: SQLite would drop `interaction` to replace it, and with
    # foreign_keys=ON (storage.engine) that cascades to every interaction_party row.
    # SQLite drops a column in place since 3.35.
    with op.batch_alter_table("interaction", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("party_count")
        batch_op.drop_column("parties")
