"""Opt-outs: excluded users and groups are never read, and adding one purges at once.

An exclusion added after a sync takes that colleague's Exchange data out in the
same round (nothing waits for a retention job), and the next scoring counts
their CRM-logged activities instead.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from emulator.testing import METADATA_ROLES, FixtureBuilder
from tests import factories as f
from tests.graph_sync.conftest import ADELE, ALEX, Exchange
from worker.failures import settings_error_message

FINANCE = "6d2c61a4-0000-4000-8000-000000000601"
EXECUTIVES = "6d2c61a4-0000-4000-8000-000000000602"
MAY_20 = dt.datetime(2024, 5, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    builder = FixtureBuilder.standard(roles=(*METADATA_ROLES, "GroupMember.Read.All"))
    # Adele is in Finance through the nested Executives group.
    builder.build()["groups"] = [
        {"id": FINANCE, "displayName": "Finance", "members": [EXECUTIVES]},
        {"id": EXECUTIVES, "displayName": "Executives", "members": [ADELE]},
    ]
    return builder


@pytest.fixture
def logged(exchange: Exchange) -> Exchange:
    """Adele also logged an email to Alex in the CRM: counted only while her mailbox is not."""
    f.email(exchange.engine, sender=ADELE, to=[ALEX], at=MAY_20, activity_id="crm-adele")
    return exchange


def _exchange_rows(exchange: Exchange) -> dict[str, int]:
    return {
        table: len(exchange.rows(table)) for table in ("interaction_sighting", "sync_cursor")
    } | {"exchange_interactions": len(exchange.interaction_keys("exchange"))}


async def test_members_of_an_excluded_group_are_never_read(logged: Exchange) -> None:
    exchange = logged

    summary = await exchange.tick(excluded_groups=FINANCE)

    assert summary.exchange is not None and summary.exchange.state == "granted"
    adele = exchange.mailbox(ADELE)
    assert (adele["status"], adele["decision_reason"]) == (
        "out_of_scope",
        "member of an excluded group",
    )
    assert exchange.mailbox_requests(ADELE) == []
    assert exchange.interaction_keys("exchange") == set()
    # Her relationship with Alex is scored from what she logged in the CRM.
    assert exchange.interaction_keys("crm") == {"crm:crm-adele"}
    assert exchange.kpi("c-alex")["emails_sent"] == 1
    group_requests = [r.path for r in exchange.requests if r.path.startswith("/groups/")]
    assert group_requests and all(FINANCE in path for path in group_requests)


async def test_adding_a_group_exclusion_after_a_sync_purges_at_once(logged: Exchange) -> None:
    exchange = logged
    await exchange.tick()
    assert exchange.mailbox(ADELE)["status"] == "ok"
    assert all(_exchange_rows(exchange).values())
    assert "crm:crm-adele" not in exchange.interaction_keys()  # her mailbox's copy wins
    read_before = len(exchange.mailbox_requests(ADELE))

    await exchange.tick(excluded_groups=FINANCE)

    assert not any(_exchange_rows(exchange).values())
    assert len(exchange.mailbox_requests(ADELE)) == read_before  # not read again
    [purge] = exchange.audit("exchange_data_purged")
    assert purge["details"]["mailboxes"] == [exchange.user_id(ADELE)]
    assert purge["details"]["interactions_removed"] == 27  # 24 messages and 3 meetings
    assert exchange.interaction_keys() == {"crm:crm-adele"}
    kpi = exchange.kpi("c-alex")
    assert (kpi["emails_sent"], kpi["emails_received"], kpi["meetings_sent"]) == (1, 0, 0)


async def test_adding_a_user_exclusion_after_a_sync_purges_at_once(logged: Exchange) -> None:
    exchange = logged
    await exchange.tick()
    assert exchange.interaction_keys("exchange")

    await exchange.tick(excluded_users=ADELE.upper())

    adele = exchange.mailbox(ADELE)
    assert (adele["status"], adele["decision_reason"]) == (
        "out_of_scope",
        "excluded by configuration",
    )
    assert not any(_exchange_rows(exchange).values())
    assert exchange.interaction_keys() == {"crm:crm-adele"}
    assert exchange.kpi("c-alex")["emails_sent"] == 1


async def test_removing_the_exclusion_reads_the_mailbox_again(exchange: Exchange) -> None:
    await exchange.tick(excluded_groups=FINANCE)
    exchange.unset("excluded_groups")

    await exchange.tick()

    assert exchange.mailbox(ADELE)["status"] == "ok"
    assert len(exchange.interaction_keys("exchange")) == 27


async def test_excluded_groups_need_the_group_permission(exchange: Exchange) -> None:
    exchange.emulator.set_roles(exchange.settings().client_id or "", list(METADATA_ROLES))

    summary = await exchange.tick(excluded_groups=FINANCE)

    assert summary.exchange is not None and summary.exchange.state == "missing"
    assert summary.exchange.consent is not None
    assert summary.exchange.consent.missing == ["GroupMember.Read.All"]
    assert exchange.mailbox_requests() == []


async def test_an_unknown_excluded_group_reads_no_mailbox(exchange: Exchange) -> None:
    # Not knowing who is opted out must not mean reading everyone.
    summary = await exchange.tick(excluded_groups="00000000-0000-4000-8000-00000000dead")

    assert summary.exchange is not None and summary.exchange.state == "sync_failed"
    assert "Request_ResourceNotFound" in summary.exchange.reason
    assert exchange.mailbox_requests() == []


async def test_a_group_name_is_refused_naming_the_variable(exchange: Exchange) -> None:
    with pytest.raises(ValidationError) as refused:
        exchange.settings(excluded_groups=f"{FINANCE}, Finance")

    message = settings_error_message(refused.value)
    assert message.startswith("invalid configuration: RAPPORT_EXCLUDED_GROUPS=")
    assert "'Finance' is not a group object id" in message
