"""The Exchange path against the emulator over real HTTP(S), with the real SDKs.

`exchange` gives a running emulator (standard tenant: Adele in EUR, Ben in
DEU, customer Alex at fabrikam.com), a migrated store whose CRM knows those
people, and the RAPPORT_* environment pointing at the emulator. A test module
overrides `fixture_builder` to serve a different tenant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from emulator.app import Emulator
from emulator.http import GraphRequest
from emulator.stats import LogEntry
from emulator.testing import (
    CLIENT_ID,
    CLIENT_SECRET,
    FixtureBuilder,
    running_emulator,
    trust_emulator_ca,
)
from storage.audit import list_events
from storage.engine import session_scope
from storage.schema import metadata
from tests import factories as f
from worker.run.tick import RunSummary, run_tick
from worker.settings import Settings

# The standard fixture's mail is from May 2024: sync as of a month later.
NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
ADELE = "adele@contoso.com"
BEN = "ben@contoso.com"
ALEX = "alex@fabrikam.com"
EXCHANGE_TABLES = ("interaction", "interaction_party", "interaction_sighting")
# Rapport's own Exchange-path state; wiping it gives a store that never synced.
SYNC_STATE_TABLES = (*EXCHANGE_TABLES, "sync_cursor", "mailbox", "tenant")


@dataclass
class Exchange:
    emulator: Emulator
    engine: Engine
    monkeypatch: pytest.MonkeyPatch
    # Every Graph request as the emulator received it (the request log keeps no query).
    requests: list[GraphRequest] = field(default_factory=list)
    _hooks: list[Callable[[LogEntry], None]] = field(default_factory=list)

    def settings(self, **overrides: Any) -> Settings:
        for name, value in overrides.items():
            self.monkeypatch.setenv(f"RAPPORT_{name.upper()}", str(value))
        return Settings()

    def unset(self, *names: str) -> None:
        for name in names:
            self.monkeypatch.delenv(f"RAPPORT_{name.upper()}", raising=False)

    async def tick(self, now: dt.datetime = NOW, **overrides: Any) -> RunSummary:
        return await run_tick(self.engine, self.settings(**overrides), now=now)

    def user_id(self, upn: str) -> str:
        return next(u.id for u in self.emulator.fixture.users if u.properties["mail"] == upn)

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row, typed as the application reads it (aware datetimes, JSON values)."""
        with self.engine.connect() as connection:
            query = sa.select(metadata.tables[table])
            return [dict(row) for row in connection.execute(query).mappings()]

    def dump(self, *tables: str) -> dict[str, list[tuple[Any, ...]]]:
        """Whole tables as sorted tuples, for comparing two runs."""
        return {
            table: sorted((tuple(row.values()) for row in self.rows(table)), key=repr)
            for table in tables
        }

    def interaction_keys(self, source: str | None = None) -> set[str]:
        return {r["key"] for r in self.rows("interaction") if source in (None, r["source"])}

    def mailbox(self, upn: str) -> dict[str, Any]:
        mailbox_id = self.user_id(upn)
        return next(r for r in self.rows("mailbox") if r["id"] == mailbox_id)

    def tenant(self) -> dict[str, Any]:
        [row] = self.rows("tenant")
        return row

    def audit(self, action: str) -> list[dict[str, Any]]:
        with session_scope(self.engine) as session:
            return [
                {"details": event.details, "command": event.command, "subject": event.subject}
                for event in list_events(session=session)
                if event.action == action
            ]

    def kpi(self, record_id: str, record_type: str = "contact") -> dict[str, Any]:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT * FROM relationship_kpi WHERE record_type = :t AND record_id = :i"),
                {"t": record_type, "i": record_id},
            ).mappings()
            return dict(row.one())

    def forget_sync(self) -> None:
        """Wipe Rapport's Exchange state (not the CRM): the next tick is a first sync."""
        with self.engine.begin() as connection:
            for table in SYNC_STATE_TABLES:
                connection.execute(sa.text(f"DELETE FROM {table}"))

    def mailbox_requests(self, upn: str | None = None) -> list[LogEntry]:
        wanted = self.user_id(upn) if upn else None
        return [
            entry
            for entry in self.emulator.request_log
            if entry.mailbox is not None and wanted in (None, entry.mailbox)
        ]

    def after_request(self, action: Callable[[LogEntry], None]) -> None:
        """Run `action` after the emulator logs each request (before the reply is sent)."""
        self._hooks.append(action)

    def _install(self) -> None:
        graph = self.emulator.graph
        handle, record = graph.handle, self.emulator.stats.record

        async def recording_handle(request: GraphRequest, *, in_batch: bool = False) -> Any:
            self.requests.append(request)
            return await handle(request, in_batch=in_batch)

        def hooked_record(entry: LogEntry) -> None:
            record(entry)
            for hook in list(self._hooks):
                hook(entry)

        self.monkeypatch.setattr(graph, "handle", recording_handle)
        self.monkeypatch.setattr(self.emulator.stats, "record", hooked_record)


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
        exchange = Exchange(emulator, engine, monkeypatch)
        exchange._install()
        yield exchange
