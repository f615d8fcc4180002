from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.compliance.scenario import seed_scored
from tests.store_copies import SeededStore


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> SeededStore:
    """The scenario seeded and scored once per module and database (tests/store_copies.py)."""
    return SeededStore(seed_scored, tmp_path_factory.mktemp("scenario"))


@pytest.fixture
def scored(engine: Engine, scenario: SeededStore) -> Engine:
    """A store holding the scenario's CRM, ingested and scored, with audit rows: this
    test's own (`engine`, at `database_url`), a copy of the module's seeded scenario."""
    return scenario.copy_into(engine)
