"""A tenant whose admin granted only part of what Rapport needs: CRM data, and why."""

from __future__ import annotations

import datetime as dt

import pytest

from emulator.testing import FixtureBuilder
from tests import factories as f
from tests.graph_sync.conftest import ADELE, ALEX, Exchange

WITHOUT_CALENDARS = ("Mail.ReadBasic.All", "User.Read.All")


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    return FixtureBuilder.standard(roles=WITHOUT_CALENDARS)


async def test_a_missing_permission_is_named_and_nothing_is_read(exchange: Exchange) -> None:
    f.email(exchange.engine, sender=ADELE, to=[ALEX], at=dt.datetime(2024, 5, 20, tzinfo=dt.UTC))

    summary = await exchange.tick()

    assert summary.exchange is not None and summary.exchange.consent is not None
    assert summary.exchange.state == "missing"
    consent = summary.exchange.consent
    assert consent.missing == ["Calendars.ReadBasic.All"]
    assert "meeting" in consent.needed_for["Calendars.ReadBasic.All"]
    assert consent.granted == sorted(WITHOUT_CALENDARS)
    tenant = exchange.tenant()
    assert tenant["consent_state"] == "missing"
    assert tenant["missing_roles"] == ["Calendars.ReadBasic.All"]
    assert "Calendars.ReadBasic.All" in tenant["consent_reason"]
    assert tenant["consent_checked_at"] is not None and tenant["consent_changed_at"] is not None
    # Not one request to Graph: the token alone shows the grant is incomplete.
    assert [e for e in exchange.emulator.request_log if e.path_kind != "token"] == []
    assert exchange.kpi("c-alex")["emails_sent"] == 1  # scored from the CRM's activity


async def test_the_state_change_is_audited_once(exchange: Exchange) -> None:
    await exchange.tick()
    await exchange.tick()

    changes = exchange.audit("consent_changed")
    assert len(changes) == 1
    assert changes[0]["details"]["to"] == "missing"
    assert changes[0]["details"]["missing"] == ["Calendars.ReadBasic.All"]
