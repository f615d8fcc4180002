"""Migration 0015: ids and keys compare byte by byte on PostgreSQL, as in Python.

Alembic's model comparison (test_migrations.py) does not see a collation the
database lacks, so the columns' collations are compared here; and a store
whose locale sorts ids otherwise than Python shows what the collation is for.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage import migrate
from storage.crm_tables import Contact
from storage.directory import load_directory
from storage.engine import create_store_engine
from storage.rapport_tables import Interaction, InteractionParty
from storage.schema import metadata
from storage.types import core_table
from tests.conftest import migrated_store, scratch_postgres_database

BEFORE = "0014"
POSTGRES_ADMIN_URL = os.environ.get(
    "RAPPORT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _declared(engine: Engine) -> dict[tuple[str, str], str]:
    """The text columns the table models declare a collation for, on this database."""
    dialect = engine.dialect
    collations = {
        (table.name, column.name): getattr(column.type.dialect_impl(dialect), "collation", None)
        for table in metadata.sorted_tables
        for column in table.columns
    }
    return {column: collation for column, collation in collations.items() if collation}


def _in_database(engine: Engine) -> dict[tuple[str, str], str]:
    inspector = sa.inspect(engine)
    collations = {
        (table.name, column["name"]): getattr(column["type"], "collation", None)
        for table in metadata.sorted_tables
        for column in inspector.get_columns(table.name)
    }
    return {column: collation for column, collation in collations.items() if collation}


def test_the_migrated_key_columns_collate_as_the_table_models_declare(
    empty_database_url: str,
) -> None:
    engine = create_store_engine(empty_database_url)
    migrate.upgrade(engine)

    declared = _declared(engine)
    assert _in_database(engine) == declared
    if engine.dialect.name == "postgresql":
        assert declared[("interaction_party", "record_id")] == "C"
        assert ("interaction", "source") not in declared  # a value, not a key
    else:
        assert declared == {}  # SQLite compares bytes already
    engine.dispose()


def _interaction(key: str) -> dict[str, object]:
    return {
        "key": key,
        "source": "crm",
        "kind": "email",
        "direction": "inbound",
        "occurred_at": datetime(2026, 11, 2, 9, tzinfo=UTC),
        "crm_activity_id": key.removeprefix("crm:"),
        "party_count": 1,
    }


def test_upgrade_and_downgrade_keep_a_populated_store(empty_database_url: str) -> None:
    engine = create_store_engine(empty_database_url)
    migrate.upgrade(engine, BEFORE)
    interactions, parties = core_table(Interaction), core_table(InteractionParty)
    keys = ["crm:a-2", "crm:B-1", "crm:a-10"]
    with engine.begin() as connection:
        connection.execute(sa.insert(interactions), [_interaction(key) for key in keys])
        connection.execute(
            sa.insert(parties),
            [
                {
                    "interaction_key": key,
                    "record_type": "contact",
                    "record_id": "c-1",
                    "role": "from",
                    "side": "external",
                }
                for key in keys
            ],
        )

    def stored() -> list[tuple[str, str]]:
        query = sa.select(parties.c.interaction_key, parties.c.record_id).order_by(
            parties.c.interaction_key
        )
        with engine.connect() as connection:
            return [(key, record) for key, record in connection.execute(query)]

    migrate.upgrade(engine)
    assert stored() == [(key, "c-1") for key in sorted(keys)]  # Python's order
    migrate.downgrade(engine, BEFORE)
    assert {key for key, _ in stored()} == set(keys)
    assert migrate.current_revision(engine) == BEFORE
    migrate.upgrade(engine)
    assert stored() == [(key, "c-1") for key in sorted(keys)]
    engine.dispose()


@pytest.fixture
def linguistic_store() -> Iterator[Engine]:
    """A PostgreSQL store whose locale sorts "contact-a" before "contact-B" (en-US)."""
    icu = " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    with scratch_postgres_database("rapport_icu", icu) as url, migrated_store(url) as engine:
        yield engine


def test_an_address_two_contacts_share_matches_the_smaller_id_by_python_order(
    linguistic_store: Engine,
) -> None:
    shared = "front-desk@fabrikam.com"
    contacts = core_table(Contact)
    with Session(linguistic_store) as session, session.begin():
        session.execute(
            sa.insert(contacts),
            [
                {"id": "contact-a", "full_name": "Ann", "email": shared},
                {"id": "contact-B", "full_name": "Bob", "email": shared},
            ],
        )
    with Session(linguistic_store) as session:
        directory = load_directory(session=session)

    assert directory.match_address(shared) == ("contact", min("contact-a", "contact-B"))
