"""Data residency: a mailbox outside the allowed geographies is never read from Graph."""

from __future__ import annotations

import datetime as dt

import pytest

from emulator.testing import FixtureBuilder, make_message
from tests import factories as f
from tests.graph_sync.conftest import ADELE, ALEX, BEN, Exchange

MAY = dt.datetime(2024, 5, 20, tzinfo=dt.UTC)


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    # Ben (DEU) holds mail with Alex too: it must never be read.
    builder = FixtureBuilder.standard()
    builder.message(BEN, make_message(ALEX, [BEN], received=MAY, internet_message_id="<ben@f>"))
    return builder


async def test_an_excluded_mailbox_is_scored_from_crm_data(exchange: Exchange) -> None:
    f.email(exchange.engine, sender=BEN, to=[ALEX], at=MAY, activity_id="crm-ben")
    f.email(exchange.engine, sender=ADELE, to=[ALEX], at=MAY, activity_id="crm-adele")

    await exchange.tick()

    ben = exchange.mailbox(BEN)
    assert (ben["status"], ben["location_allowed"], ben["data_location"]) == (
        "location_excluded",
        False,
        "DEU",
    )
    assert "DEU (preferredDataLocation) is not an allowed geography" in ben["decision_reason"]
    assert exchange.mailbox_requests(BEN) == []
    assert "msg:<ben@f>" not in exchange.interaction_keys()
    # Ben's CRM-logged email counts; Adele's is covered by her mailbox's own copy.
    assert "crm:crm-ben" in exchange.interaction_keys("crm")
    assert "crm:crm-adele" not in exchange.interaction_keys()
    assert exchange.kpi("c-alex")["emails_received"] == 12


async def test_unknown_residency_is_excluded_by_default(exchange: Exchange) -> None:
    exchange.unset("tenant_data_location")

    await exchange.tick()

    adele = exchange.mailbox(ADELE)
    assert adele["status"] == "location_excluded" and adele["data_location"] is None
    assert adele["decision_reason"] == "data residency unknown; excluded by policy"
    assert exchange.mailbox_requests() == []


async def test_unknown_residency_is_read_when_allowed(exchange: Exchange) -> None:
    exchange.unset("tenant_data_location")

    await exchange.tick(exclude_unknown_location="false")

    assert exchange.mailbox(ADELE)["status"] == "ok"
    assert exchange.mailbox_requests(BEN) == []  # DEU is still known, and still excluded
    assert len(exchange.interaction_keys("exchange")) == 27


async def test_a_mailbox_newly_excluded_loses_its_exchange_data(exchange: Exchange) -> None:
    f.email(exchange.engine, sender=ADELE, to=[ALEX], at=MAY, activity_id="crm-adele")
    await exchange.tick()
    exchange.emulator.reset_stats()

    await exchange.tick(allowed_data_locations="NAM,APC")

    assert exchange.mailbox(ADELE)["status"] == "location_excluded"
    assert exchange.mailbox_requests() == []
    assert exchange.interaction_keys() == {"crm:crm-adele"}
    assert exchange.rows("interaction_sighting") == [] and exchange.rows("sync_cursor") == []
