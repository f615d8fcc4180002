"""Metadata only: subjects and bodies are never asked for, and never stored.

The app here holds the broad Mail.Read and Calendars.Read roles, so the
emulator would hand over bodies if Rapport asked: only Rapport's own
`$select` and decoder keep them out.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from emulator.testing import CANARY, METADATA_ROLES, FixtureBuilder
from tests.graph_sync.conftest import ALEX, Exchange

CONTENT_FIELDS = {"subject", "body", "bodypreview", "uniquebody", "attachments"}


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    return FixtureBuilder.standard(roles=(*METADATA_ROLES, "Mail.Read", "Calendars.Read"))


def stored_text(exchange: Exchange) -> list[tuple[str, str, str]]:
    """(table, column, value) for every text and JSON value in every table."""
    inspector = sa.inspect(exchange.engine)
    found: list[tuple[str, str, str]] = []
    with exchange.engine.connect() as connection:
        for table in inspector.get_table_names():
            columns = [
                c["name"]
                for c in inspector.get_columns(table)
                if isinstance(c["type"], sa.String | sa.Text | sa.JSON)
                or "json" in str(c["type"]).lower()
            ]
            if not columns:
                continue
            selected: list[sa.ColumnClause[Any]] = [sa.column(c) for c in columns]
            query = sa.select(*selected).select_from(sa.table(table))
            for row in connection.execute(query):
                for column, value in zip(columns, row, strict=True):
                    if value is not None:
                        found.append((table, column, _text(value)))
    return found


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


async def test_canaries_never_reach_the_database(exchange: Exchange) -> None:
    summary = await exchange.tick()

    assert summary.exchange is not None and summary.exchange.state == "granted"
    values = stored_text(exchange)
    assert {table for table, _, _ in values} >= {"interaction", "interaction_party", "mailbox"}
    assert [v for v in values if CANARY.lower() in v[2].lower()] == []
    # Rapport's own Exchange tables hold record ids, never the addresses they matched.
    rapport = (
        "interaction",
        "interaction_party",
        "interaction_sighting",
        "mailbox",
        "sync_cursor",
        "tenant",
    )
    assert [v for v in values if v[0] in rapport and ALEX in v[2].lower()] == []


async def test_select_asks_for_metadata_only(exchange: Exchange) -> None:
    await exchange.tick()

    message_deltas = [
        r
        for r in exchange.requests
        if r.path.endswith(("delta", "delta()")) and "/messages/" in r.path
    ]
    first_pages = [
        r for r in message_deltas if "$skiptoken" not in r.query and "$deltatoken" not in r.query
    ]
    assert len(first_pages) == 3  # inbox, sent items, archive
    for request in first_pages:
        selected = {field.lower() for field in request.query["$select"].split(",")}
        assert selected and not selected & CONTENT_FIELDS
        assert "internetmessageid" in selected and "from" in selected
    for request in exchange.requests:
        assert "$expand" not in request.query
    for request in message_deltas:  # on every page, not only the first
        assert "odata.maxpagesize=500" in (request.header("prefer") or "")
