from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.compliance.scenario import seed_scored


@pytest.fixture
def scored(engine: Engine) -> Engine:
    """A store holding the scenario's CRM, ingested and scored, with audit rows."""
    seed_scored(engine)
    return engine
