"""Migration 0017: on PostgreSQL the record tables leave a tenth of each page free, so
writing health back updates rows in place (heap-only); downgrading gives the room back."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage import migrate
from storage.engine import create_store_engine

RECORD_TABLES = ("contact", "lead", "opportunity", "account")


@pytest.fixture
def store(empty_database_url: str) -> Iterator[Engine]:
    engine = create_store_engine(empty_database_url)
    yield engine
    engine.dispose()


def _options(engine: Engine) -> dict[str, list[str] | None]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:tables)"),
            {"tables": list(RECORD_TABLES)},
        ).all()
    return dict(rows)


@pytest.mark.parametrize("empty_database_url", ["postgres"], indirect=True)  # fillfactor
def test_the_record_tables_leave_room_and_downgrading_gives_it_back(store: Engine) -> None:
    migrate.upgrade(store, "0016")
    assert _options(store) == dict.fromkeys(RECORD_TABLES)

    migrate.upgrade(store, "0017")
    assert _options(store) == dict.fromkeys(RECORD_TABLES, ["fillfactor=90"])

    migrate.downgrade(store, "0016")
    assert _options(store) == dict.fromkeys(RECORD_TABLES)
