"""interaction_log_pause: a bulk writer of interactions logs what it wrote itself, once

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 05:30:00.000000

The interaction triggers of 0012 copy every row written into
interaction_change. A first CRM ingest writes a million rows, and logging each
(then reading the log back to learn which records they name) cost more than
writing them. A transaction that holds a row in interaction_log_pause writes
without the per-row log and records what it wrote in one statement instead
(storage.crm_ingest). The row is its own: another transaction does not see it
uncommitted, so every other writer is logged as before, and the pausing
transaction deletes its row before it commits (a rollback takes it too).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTERACTION_COLUMNS = "key, parties, regarding_type, regarding_id"
PAUSED = "EXISTS (SELECT 1 FROM interaction_log_pause)"


def _postgres_function(paused_check: bool) -> None:
    check = f"IF {PAUSED} THEN\n  RETURN NULL;\nEND IF;\n" if paused_check else ""
    op.execute(
        "CREATE OR REPLACE FUNCTION rapport_interaction_changed() RETURNS trigger"
        " LANGUAGE plpgsql AS $$\nBEGIN\n"
        f"{check}"
        "IF TG_OP <> 'DELETE' THEN\n"
        f"  INSERT INTO interaction_change ({INTERACTION_COLUMNS})"
        f" SELECT {INTERACTION_COLUMNS} FROM rapport_new;\n"
        "END IF;\n"
        "IF TG_OP <> 'INSERT' THEN\n"
        f"  INSERT INTO interaction_change ({INTERACTION_COLUMNS})"
        f" SELECT {INTERACTION_COLUMNS} FROM rapport_old;\n"
        "END IF;\n"
        "RETURN NULL;\nEND\n$$"
    )


def _sqlite_triggers(paused_check: bool) -> None:
    values = ", ".join(f"{{0}}.{column}" for column in INTERACTION_COLUMNS.split(", "))
    logged = f"INSERT INTO interaction_change ({INTERACTION_COLUMNS}) VALUES ({values});"
    when = f" WHEN NOT {PAUSED}" if paused_check else ""
    for event, rows in (("insert", ("NEW",)), ("update", ("OLD", "NEW")), ("delete", ("OLD",))):
        op.execute(f"DROP TRIGGER IF EXISTS rapport_interaction_{event}_logged")
        body = "\n".join(f"  {logged.format(row)}" for row in rows)
        op.execute(
            f"CREATE TRIGGER rapport_interaction_{event}_logged AFTER {event.upper()}"
            f' ON "interaction"{when}\nBEGIN\n{body}\nEND'
        )


def upgrade() -> None:
    op.create_table(
        "interaction_log_pause",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_function(paused_check=True)
    else:
        _sqlite_triggers(paused_check=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_function(paused_check=False)
    else:
        _sqlite_triggers(paused_check=False)
    op.drop_table("interaction_log_pause")
