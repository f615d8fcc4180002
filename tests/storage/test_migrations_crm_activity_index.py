"""Migration 0018: interaction.crm_activity_id is not indexed; downgrading makes it again."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage import migrate
from storage.engine import create_store_engine

INDEX = "ix_interaction_crm_activity_id"


def _interaction_indexes(engine: Engine) -> set[str | None]:
    return {index["name"] for index in sa.inspect(engine).get_indexes("interaction")}


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    store = create_store_engine(empty_database_url)
    yield store
    store.dispose()


def test_upgrade_drops_the_index_and_downgrade_makes_it_again(engine: Engine) -> None:
    migrate.upgrade(engine, "0017")
    assert INDEX in _interaction_indexes(engine)

    migrate.upgrade(engine)
    assert INDEX not in _interaction_indexes(engine)
    assert "ix_interaction_occurred_at" in _interaction_indexes(engine)  # the others stay

    migrate.downgrade(engine, "0017")
    assert INDEX in _interaction_indexes(engine)
