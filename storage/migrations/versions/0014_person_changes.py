"""crm_person_change: a contact or lead row written is logged by row, not by table

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 08:10:00.000000

Migration 0012 logged a contact or lead change as its table's name, which
made the next tick read every CRM activity and regrade every record. An
insert or an update of a column Rapport reads now logs the row instead,
before and after (its id, its account, its addresses: storage.tick_tables),
and a tick derives again only the activities those addresses and ids match
and scores only the records the row feeds (storage.crm_ingest,
worker.run.tick). A delete, a change of a row's id and a TRUNCATE still log
the table: the scopes that named the row are gone from the snapshot, and a
regrade is what finds them. An erasure empties this log too, as it does
interaction_change: its rows carry addresses.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns Rapport reads (as in 0012), and what the log keeps of a row.
READ_COLUMNS = {
    "contact": ("id", "full_name", "email", "email2", "email3", "account_id", "created_at"),
    "lead": ("id", "full_name", "email", "company_name", "status", "owner_id", "created_at"),
}
LOGGED = {
    "contact": ("id", "account_id", "email", "email2", "email3"),
    "lead": ("id", "NULL", "email", "NULL", "NULL"),
}
LOG_COLUMNS = "record_type, record_id, account_id, email, email2, email3"
EVENTS = ("insert", "update")
# What an erasure empties: the logs that may name the subject (0012's two, and this one).
FORGOTTEN = ("interaction_change", "tick_pending_record", "crm_person_change")


def upgrade() -> None:
    op.create_table(
        "crm_person_change",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("record_type", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("email2", sa.String(), nullable=True),
        sa.Column("email3", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
        _postgres_erasure(FORGOTTEN)
    else:
        _sqlite_triggers()
        _sqlite_erasure(FORGOTTEN)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_erasure(FORGOTTEN[:-1])
        for table, columns in READ_COLUMNS.items():
            for event in EVENTS:
                op.execute(f'DROP TRIGGER IF EXISTS rapport_{event}_logged ON "{table}"')
                op.execute(
                    f'CREATE TRIGGER rapport_{event}_logged AFTER {event.upper()} ON "{table}" '
                    f"{_REFERENCING[event]} FOR EACH STATEMENT "
                    f"EXECUTE FUNCTION rapport_record_changed('{', '.join(columns)}')"
                )
        op.execute("DROP FUNCTION IF EXISTS rapport_person_changed()")
    else:
        _sqlite_erasure(FORGOTTEN[:-1])
        for table, columns in READ_COLUMNS.items():
            mark = _table_mark(table)
            moved = _moved(columns)
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS rapport_{table}_{event}_logged")
            _sqlite_trigger(table, "insert", "", [mark])
            _sqlite_trigger(table, "update", f" WHEN {moved}", [mark])
    op.drop_table("crm_person_change")


_REFERENCING = {
    "insert": "REFERENCING NEW TABLE AS rapport_new",
    "update": "REFERENCING OLD TABLE AS rapport_old NEW TABLE AS rapport_new",
}


def _postgres_triggers() -> None:
    # TG_ARGV[0]: the columns Rapport reads; TG_ARGV[1]: what the log keeps of a row.
    # An update logs the rows whose read columns changed, as they were and as they are;
    # one that changed a row's id marks the table as well (the old id's scopes are gone).
    op.execute(
        "CREATE FUNCTION rapport_person_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "IF TG_OP = 'INSERT' THEN\n"
        "  EXECUTE format('INSERT INTO crm_person_change"
        f" ({LOG_COLUMNS}) SELECT %L, %s FROM rapport_new', TG_TABLE_NAME, TG_ARGV[1]);\n"
        "  RETURN NULL;\n"
        "END IF;\n"
        "EXECUTE format('INSERT INTO crm_person_change"
        f" ({LOG_COLUMNS}) SELECT %1$L, %3$s FROM"
        " (SELECT %2$s FROM rapport_new EXCEPT SELECT %2$s FROM rapport_old) AS n"
        " UNION ALL SELECT %1$L, %3$s FROM"
        " (SELECT %2$s FROM rapport_old EXCEPT SELECT %2$s FROM rapport_new) AS o',"
        " TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[1]);\n"
        "IF EXISTS (SELECT id FROM rapport_old EXCEPT SELECT id FROM rapport_new) THEN\n"
        "  INSERT INTO crm_record_change (table_name) VALUES (TG_TABLE_NAME);\n"
        "END IF;\n"
        "RETURN NULL;\n"
        "END\n$$"
    )
    for table, columns in READ_COLUMNS.items():
        arguments = f"'{', '.join(columns)}', '{', '.join(LOGGED[table])}'"
        for event in EVENTS:
            op.execute(f'DROP TRIGGER rapport_{event}_logged ON "{table}"')
            op.execute(
                f'CREATE TRIGGER rapport_{event}_logged AFTER {event.upper()} ON "{table}" '
                f"{_REFERENCING[event]} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION rapport_person_changed({arguments})"
            )


def _table_mark(table: str) -> str:
    return (
        f"INSERT INTO crm_record_change (table_name) SELECT '{table}' WHERE NOT EXISTS"
        f" (SELECT 1 FROM crm_record_change WHERE table_name = '{table}')"
    )


def _moved(columns: tuple[str, ...]) -> str:
    return " OR ".join(f'OLD."{column}" IS NOT NEW."{column}"' for column in columns)


def _sqlite_trigger(table: str, event: str, when: str, statements: list[str]) -> None:
    body = "\n".join(f"  {statement};" for statement in statements)
    op.execute(
        f'CREATE TRIGGER rapport_{table}_{event}_logged AFTER {event.upper()} ON "{table}"'
        f"{when}\nBEGIN\n{body}\nEND"
    )


def _sqlite_triggers() -> None:
    for table, columns in READ_COLUMNS.items():

        def logged(row: str, table: str = table) -> str:
            values = ", ".join(
                column if column == "NULL" else f"{row}.{column}" for column in LOGGED[table]
            )
            return f"INSERT INTO crm_person_change ({LOG_COLUMNS}) VALUES ('{table}', {values})"

        renamed = f"{_table_mark(table)} AND OLD.id IS NOT NEW.id"
        for event in EVENTS:
            op.execute(f"DROP TRIGGER rapport_{table}_{event}_logged")
        _sqlite_trigger(table, "insert", "", [logged("NEW")])
        _sqlite_trigger(
            table, "update", f" WHEN {_moved(columns)}", [logged("OLD"), logged("NEW"), renamed]
        )


def _postgres_erasure(forgotten: Sequence[str]) -> None:
    # A statement trigger runs even when the insert added no row: mark it anyway.
    deletes = "".join(f"DELETE FROM {table};\n" for table in forgotten)
    op.execute(
        "CREATE OR REPLACE FUNCTION rapport_erasure_changed() RETURNS trigger"
        f" LANGUAGE plpgsql AS $$\nBEGIN\n{deletes}"
        "INSERT INTO crm_record_change (table_name) VALUES ('erased_subject');\n"
        "RETURN NULL;\nEND\n$$"
    )


def _sqlite_erasure(forgotten: Sequence[str]) -> None:
    op.execute("DROP TRIGGER rapport_erased_subject_insert_logged")
    deletes = [f"DELETE FROM {table}" for table in forgotten]
    _sqlite_trigger("erased_subject", "insert", "", [_table_mark("erased_subject"), *deletes])
