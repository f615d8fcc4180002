"""The Exchange path against the emulator over real HTTP(S), with the real SDKs.

`exchange` gives a running emulator (standard tenant: Adele in EUR, Ben in
DEU, customer Alex at fabrikam.com), a migrated store whose CRM knows those
people, and the RAPPORT_* environment pointing at the emulator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from emulator.app import Emulator
from emulator.testing import (
    CLIENT_ID,
    CLIENT_SECRET,
    FixtureBuilder,
    running_emulator,
    trust_emulator_ca,
)
from tests import factories as f
from worker.pipeline import RunSummary, run_tick
from worker.settings import Settings

# The standard fixture's mail is from May 2024: sync as of a month later.
NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
ADELE = "adele@contoso.com"
BEN = "ben@contoso.com"
ALEX = "alex@fabrikam.com"


@dataclass
class Exchange:
    emulator: Emulator
    engine: Engine
    monkeypatch: pytest.MonkeyPatch

    def settings(self, **overrides: Any) -> Settings:
        for name, value in overrides.items():
            self.monkeypatch.setenv(f"RAPPORT_{name.upper()}", str(value))
        return Settings()

    async def tick(self, now: dt.datetime = NOW, **overrides: Any) -> RunSummary:
        return await run_tick(self.engine, self.settings(**overrides), now=now)

    def user_id(self, upn: str) -> str:
        return next(u.id for u in self.emulator.fixture.users if u.properties["mail"] == upn)

    def rows(self, table: str) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [
                dict(r) for r in connection.execute(sa.text(f"SELECT * FROM {table}")).mappings()
            ]

    def interaction_keys(self, source: str | None = None) -> set[str]:
        return {r["key"] for r in self.rows("interaction") if source in (None, r["source"])}


def seed_crm(engine: Engine) -> None:
    f.user(engine, "u-adele", ADELE, "Adele Vance")
    f.user(engine, "u-ben", BEN, "Ben Walters")
    f.account(engine, "a-fab", "Fabrikam", primary="c-alex")
    f.contact(engine, "c-alex", ALEX, "Alex Wilber", "a-fab")


def environment(monkeypatch: pytest.MonkeyPatch, emulator: Emulator, database_url: str) -> None:
    trust_emulator_ca(monkeypatch, emulator)
    for name, value in {
        "DATABASE_URL": database_url,
        "TENANT_ID": emulator.tenant_id,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "AUTHORITY_HOST": emulator.authority,
        "GRAPH_BASE_URL": emulator.graph_url,
        "TENANT_DATA_LOCATION": "EUR",
        "RETRY_MAX_WAIT_SECONDS": "0.05",
    }.items():
        monkeypatch.setenv(f"RAPPORT_{name}", value)


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    return FixtureBuilder.standard()


@pytest.fixture
async def exchange(
    fixture_builder: FixtureBuilder,
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Exchange]:
    seed_crm(engine)
    async with running_emulator(fixture_builder.build(), workdir=tmp_path, seed=7) as emulator:
        environment(monkeypatch, emulator, database_url)
        yield Exchange(emulator, engine, monkeypatch)
