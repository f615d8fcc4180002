"""Mailbox scope by group: only the group's members (nested groups too) are read."""

from __future__ import annotations

import pytest

from emulator.testing import METADATA_ROLES, FixtureBuilder
from tests import factories as f
from tests.graph_sync.conftest import ADELE, Exchange

CARA, DAN = "cara@contoso.com", "dan@contoso.com"
SALES, EMEA = "6d2c61a4-0000-4000-8000-000000000501", "6d2c61a4-0000-4000-8000-000000000502"


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    builder = FixtureBuilder.standard(roles=(*METADATA_ROLES, "GroupMember.Read.All"))
    builder.user(CARA).user(DAN)
    # Adele directly, Cara through a nested group; Dan is in neither.
    builder.build()["groups"] = [
        {"id": SALES, "displayName": "Sales", "members": [ADELE, EMEA]},
        {"id": EMEA, "displayName": "Sales EMEA", "members": [CARA, SALES]},
    ]
    return builder


@pytest.fixture
def colleagues(exchange: Exchange) -> Exchange:
    f.user(exchange.engine, "u-cara", CARA, "Cara Lopez")
    f.user(exchange.engine, "u-dan", DAN, "Dan Park")
    return exchange


async def test_only_members_of_the_group_are_read(colleagues: Exchange) -> None:
    exchange = colleagues

    summary = await exchange.tick(mailbox_group_id=SALES)

    assert summary.exchange is not None and summary.exchange.state == "granted"
    statuses = {upn: exchange.mailbox(upn)["status"] for upn in (ADELE, CARA, DAN)}
    assert statuses == {ADELE: "ok", CARA: "ok", DAN: "out_of_scope"}
    assert (
        exchange.mailbox(DAN)["decision_reason"] == "not a member of the configured mailbox group"
    )
    assert exchange.mailbox_requests(DAN) == []
    group_requests = [r for r in exchange.requests if r.path.startswith("/groups/")]
    assert group_requests and all(SALES in r.path for r in group_requests)


async def test_the_group_needs_its_own_permission(colleagues: Exchange) -> None:
    exchange = colleagues
    exchange.emulator.set_roles(exchange.settings().client_id or "", list(METADATA_ROLES))

    summary = await exchange.tick(mailbox_group_id=SALES)

    assert summary.exchange is not None and summary.exchange.consent is not None
    assert summary.exchange.state == "missing"
    assert summary.exchange.consent.missing == ["GroupMember.Read.All"]
    assert "RAPPORT_MAILBOX_GROUP_ID" in summary.exchange.consent.needed_for["GroupMember.Read.All"]
    assert exchange.mailbox_requests() == []


async def test_an_unknown_group_fails_the_round_clearly(colleagues: Exchange) -> None:
    exchange = colleagues

    summary = await exchange.tick(mailbox_group_id="00000000-0000-4000-8000-00000000dead")

    assert summary.exchange is not None and summary.exchange.state == "sync_failed"
    assert (
        "404" in summary.exchange.reason and "Request_ResourceNotFound" in summary.exchange.reason
    )
    assert exchange.mailbox_requests() == []
