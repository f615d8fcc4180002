"""crm_activity_change, crm_record_change, interaction_change (filled by triggers),
tick_pending_record, crm_activity_recheck, tick_state: incremental ticks

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 02:30:00.000000

The triggers log every change whoever writes (storage.tick_tables). On
PostgreSQL they run once per statement over its transition tables, so a bulk
load (COPY included) costs one INSERT ... SELECT, not a call per row; SQLite
has row triggers only. A record table's update counts only when a column
Rapport reads changed: writing health back is not a change. TRUNCATE of a
CRM table is noticed as a change of the whole table.

An erasure (a new erased_subject row) empties interaction_change and
tick_pending_record in its own transaction: they would otherwise still name
the subject, and the erasure makes the next tick a full pass and a regrade
anyway.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns of each record table that Rapport reads (not health_*), as of this revision.
RECORD_COLUMNS = {
    "system_user": ("id", "email", "full_name", "team", "disabled"),
    "account": ("id", "name", "primary_contact_id", "owner_id", "created_at"),
    "contact": ("id", "full_name", "email", "email2", "email3", "account_id", "created_at"),
    "lead": ("id", "full_name", "email", "company_name", "status", "owner_id", "created_at"),
    "opportunity": (
        "id",
        "name",
        "account_id",
        "owner_id",
        "customer_contact_id",
        "status",
        "estimated_revenue",
        "estimated_close_date",
        "actual_close_date",
        "created_at",
    ),
    "opportunity_stakeholder": ("opportunity_id", "contact_id", "role"),
    "erased_subject": ("token", "erased_at"),
}
# Activity tables -> the column naming the activity.
ACTIVITY_TABLES = {"crm_activity": "id", "crm_activity_party": "activity_id"}
INTERACTION_COLUMNS = "key, parties, regarding_type, regarding_id"
EVENTS = ("insert", "update", "delete")


def _seq() -> sa.Column[int]:
    return sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "crm_activity_change",
        _seq(),
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "crm_record_change",
        _seq(),
        sa.Column("table_name", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "interaction_change",
        _seq(),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("parties", sa.Text(), nullable=True),
        sa.Column("regarding_type", sa.String(), nullable=True),
        sa.Column("regarding_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "tick_pending_record",
        sa.Column("record_type", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("record_type", "record_id"),
    )
    op.create_table(
        "crm_activity_recheck",
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id"),
    )
    op.create_table(
        "tick_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crm_context", sa.String(), nullable=True),
        sa.Column("crm_not_before", storage.types.UTCDateTime(), nullable=True),
        sa.Column("crm_completed_until", storage.types.UTCDateTime(), nullable=True),
        sa.Column("crm_latest", storage.types.UTCDateTime(), nullable=True),
        sa.Column("crm_digests", sa.Integer(), nullable=True),
        sa.Column("regraded_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("settings_fingerprint", sa.String(), nullable=True),
        sa.Column("regrade_due", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("crm_activity_digest", schema=None) as batch_op:
        # Two activities may share an interaction key (one email tracked twice).
        batch_op.create_index(
            "ix_crm_activity_digest_interaction_key", ["interaction_key"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in (*ACTIVITY_TABLES, *RECORD_COLUMNS, "interaction"):
            for event in (*EVENTS, "truncate"):
                op.execute(f'DROP TRIGGER IF EXISTS rapport_{event}_logged ON "{table}"')
        op.execute("DROP TRIGGER IF EXISTS rapport_erasure_forgets ON erased_subject")
        for function in (
            "activity",
            "party",
            "record",
            "record_truncated",
            "interaction",
            "erasure",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS rapport_{function}_changed()")
    else:
        for table in (*ACTIVITY_TABLES, *RECORD_COLUMNS, "interaction"):
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS rapport_{table}_{event}_logged")
    with op.batch_alter_table("crm_activity_digest", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_activity_digest_interaction_key")
    for table in (
        "tick_state",
        "crm_activity_recheck",
        "tick_pending_record",
        "interaction_change",
        "crm_record_change",
        "crm_activity_change",
    ):
        op.drop_table(table)


def _postgres_function(name: str, body: str, declare: str = "") -> None:
    op.execute(
        f"CREATE FUNCTION rapport_{name}_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"{declare}BEGIN\n{body}\nRETURN NULL;\nEND\n$$"
    )


def _postgres_statement_triggers(table: str, function: str, args: str = "") -> None:
    referencing = {
        "insert": "REFERENCING NEW TABLE AS rapport_new",
        "update": "REFERENCING OLD TABLE AS rapport_old NEW TABLE AS rapport_new",
        "delete": "REFERENCING OLD TABLE AS rapport_old",
    }
    for event in EVENTS:
        op.execute(
            f'CREATE TRIGGER rapport_{event}_logged AFTER {event.upper()} ON "{table}" '
            f"{referencing[event]} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION rapport_{function}_changed({args})"
        )
    op.execute(
        f'CREATE TRIGGER rapport_truncate_logged AFTER TRUNCATE ON "{table}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION rapport_record_truncated_changed()"
    )


def _postgres_triggers() -> None:
    for name, column in (("activity", "id"), ("party", "activity_id")):
        _postgres_function(
            name,
            "IF TG_OP = 'INSERT' THEN\n"
            f"  INSERT INTO crm_activity_change (activity_id) SELECT DISTINCT {column}"
            " FROM rapport_new;\n"
            "ELSIF TG_OP = 'UPDATE' THEN\n"
            f"  INSERT INTO crm_activity_change (activity_id) SELECT {column} FROM rapport_new"
            f" UNION SELECT {column} FROM rapport_old;\n"
            "ELSE\n"
            f"  INSERT INTO crm_activity_change (activity_id) SELECT DISTINCT {column}"
            " FROM rapport_old;\n"
            "END IF;",
        )
    # TG_ARGV[0]: the columns Rapport reads; an update changes something only if the
    # new rows hold a combination of them the old rows did not.
    _postgres_function(
        "record",
        "IF TG_OP = 'INSERT' THEN\n"
        "  moved := EXISTS (SELECT 1 FROM rapport_new);\n"
        "ELSIF TG_OP = 'DELETE' THEN\n"
        "  moved := EXISTS (SELECT 1 FROM rapport_old);\n"
        "ELSE\n"
        "  EXECUTE format('SELECT EXISTS (SELECT %1$s FROM rapport_new"
        " EXCEPT SELECT %1$s FROM rapport_old)', TG_ARGV[0]) INTO moved;\n"
        "END IF;\n"
        "IF moved THEN\n"
        "  INSERT INTO crm_record_change (table_name) VALUES (TG_TABLE_NAME);\n"
        "END IF;",
        declare="DECLARE moved boolean;\n",
    )
    _postgres_function(
        "erasure",
        # A statement trigger runs even when the insert added no row: mark it anyway.
        "DELETE FROM interaction_change;\nDELETE FROM tick_pending_record;\n"
        "INSERT INTO crm_record_change (table_name) VALUES ('erased_subject');",
    )
    _postgres_function(
        "record_truncated",
        "INSERT INTO crm_record_change (table_name) VALUES (TG_TABLE_NAME);",
    )
    _postgres_function(
        "interaction",
        "IF TG_OP <> 'DELETE' THEN\n"
        f"  INSERT INTO interaction_change ({INTERACTION_COLUMNS})"
        f" SELECT {INTERACTION_COLUMNS} FROM rapport_new;\n"
        "END IF;\n"
        "IF TG_OP <> 'INSERT' THEN\n"
        f"  INSERT INTO interaction_change ({INTERACTION_COLUMNS})"
        f" SELECT {INTERACTION_COLUMNS} FROM rapport_old;\n"
        "END IF;",
    )
    for table, _column in ACTIVITY_TABLES.items():
        _postgres_statement_triggers(table, "activity" if table == "crm_activity" else "party")
    for table, columns in RECORD_COLUMNS.items():
        _postgres_statement_triggers(table, "record", f"'{', '.join(columns)}'")
    _postgres_statement_triggers("interaction", "interaction")
    op.execute(
        "CREATE TRIGGER rapport_erasure_forgets AFTER INSERT ON erased_subject"
        " FOR EACH STATEMENT EXECUTE FUNCTION rapport_erasure_changed()"
    )


def _sqlite_trigger(table: str, event: str, when: str, statements: list[str]) -> None:
    body = "\n".join(f"  {statement};" for statement in statements)
    op.execute(
        f'CREATE TRIGGER rapport_{table}_{event}_logged AFTER {event.upper()} ON "{table}"'
        f"{when}\nBEGIN\n{body}\nEND"
    )


def _sqlite_triggers() -> None:
    for table, column in ACTIVITY_TABLES.items():

        def log(row: str, column: str = column) -> str:
            return f"INSERT INTO crm_activity_change (activity_id) VALUES ({row}.{column})"

        _sqlite_trigger(table, "insert", "", [log("NEW")])
        _sqlite_trigger(table, "update", "", [log("OLD"), log("NEW")])
        _sqlite_trigger(table, "delete", "", [log("OLD")])
    for table, columns in RECORD_COLUMNS.items():
        mark = (
            f"INSERT INTO crm_record_change (table_name) SELECT '{table}' WHERE NOT EXISTS"
            f" (SELECT 1 FROM crm_record_change WHERE table_name = '{table}')"
        )
        moved = " OR ".join(f'OLD."{column}" IS NOT NEW."{column}"' for column in columns)
        forget = (
            ["DELETE FROM interaction_change", "DELETE FROM tick_pending_record"]
            if table == "erased_subject"
            else []
        )
        _sqlite_trigger(table, "insert", "", [mark, *forget])
        _sqlite_trigger(table, "update", f" WHEN {moved}", [mark])
        _sqlite_trigger(table, "delete", "", [mark])
    values = ", ".join(f"{{0}}.{column}" for column in INTERACTION_COLUMNS.split(", "))
    logged = f"INSERT INTO interaction_change ({INTERACTION_COLUMNS}) VALUES ({values})"
    _sqlite_trigger("interaction", "insert", "", [logged.format("NEW")])
    _sqlite_trigger("interaction", "update", "", [logged.format("OLD"), logged.format("NEW")])
    _sqlite_trigger("interaction", "delete", "", [logged.format("OLD")])
