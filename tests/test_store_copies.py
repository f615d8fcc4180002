"""tests/store_copies.py: a copy of a seeded store holds exactly what the seeding left,
and takes writes as any store does (its triggers on, its ids going on)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.audit import record_event
from storage.engine import session_scope
from tests import factories as f
from tests.compliance.scan import dump
from tests.conftest import private_store
from tests.store_copies import SeededStore
from worker.run.tick import run_once


def _seed(engine: Engine) -> None:
    f.user(engine, "u-ana", "ana@ours.example", "Ana Seller")
    f.contact(engine, "c-dana", "dana@contoso.example", "Dana Ruiz")
    f.email(engine, sender="ana@ours.example", to=["dana@contoso.example"], at=f.days_ago(3))
    run_once(engine, now=f.NOW)
    with session_scope(engine) as session:
        record_event(session=session, at=f.NOW, command="test", action="seeded")
    # Left for the next tick: the change log the database's triggers fill.
    f.email(engine, sender="dana@contoso.example", to=["ana@ours.example"], at=f.days_ago(1))


@pytest.fixture
def second_store(engine: Engine, tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """Another migrated, empty store of `engine`'s kind."""
    kind = "postgres" if engine.dialect.name == "postgresql" else "sqlite"
    directory = tmp_path / "second"  # beside `engine`'s file, on SQLite
    directory.mkdir()
    with private_store(kind, directory, sqlite_template) as store:
        yield store


def _audit_ids(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text("SELECT id FROM audit_event ORDER BY id")).scalars())


def test_a_copy_holds_every_row_the_seeding_left(
    engine: Engine, second_store: Engine, tmp_path: Path
) -> None:
    seeded = SeededStore(_seed, tmp_path)
    seeded.copy_into(engine)  # the first store is seeded
    left = dump(engine)

    copied = dump(seeded.copy_into(second_store))

    assert copied == left
    assert copied["crm_activity_change"] and copied["relationship_kpi"]


def test_a_copy_takes_writes_as_any_store(
    engine: Engine, second_store: Engine, tmp_path: Path
) -> None:
    seeded = SeededStore(_seed, tmp_path)
    seeded.copy_into(engine)
    copy = seeded.copy_into(second_store)

    with session_scope(copy) as session:
        record_event(session=session, at=f.NOW, command="test", action="note")
    # Logged by the database's trigger, as the seeding's last email was before the copy.
    f.email(copy, sender="ana@ours.example", to=["dana@contoso.example"], at=f.days_ago(0.5))
    ran = run_once(copy, now=f.NOW)

    assert _audit_ids(copy) == [*_audit_ids(engine), max(_audit_ids(engine)) + 1]
    assert ran.ingest.counts.added == 2 and ran.records_scored
