"""CRM activities and Exchange together: nothing counted twice, nothing lost.

Exchange covers Adele's mailbox from her backfill start (365 days before the
first sync). A CRM-logged email of hers after that is Exchange's to count; one
before it, a call, or an email of a colleague Exchange does not read still
counts from the CRM. An email logged in the CRM with its Internet message id
is the same email Exchange sees: one interaction.
"""

from __future__ import annotations

import datetime as dt

import pytest

from emulator.testing import CLIENT_ID, FixtureBuilder
from tests import factories as f
from tests.graph_sync.conftest import ADELE, ALEX, BEN, Exchange

MAY = dt.datetime(2024, 5, 20, 9, tzinfo=dt.UTC)
LONG_AGO = dt.datetime(2023, 1, 10, 9, tzinfo=dt.UTC)  # before Adele's Exchange coverage
CARA = "cara@contoso.com"  # a colleague whose mailbox is still on premises


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    return FixtureBuilder.standard().user(CARA, has_mailbox=False)


def log_crm_activities(exchange: Exchange) -> None:
    engine = exchange.engine
    f.email(
        engine,
        sender=ALEX,
        to=[ADELE],
        at=MAY,
        activity_id="tracked",
        internet_message_id="<in-3@fabrikam.com>",
    )
    f.email(engine, sender=ADELE, to=[ALEX], at=MAY, activity_id="covered")
    f.meeting(
        engine,
        organizer=ADELE,
        attendees={ALEX: "accepted"},
        start=MAY,
        activity_id="covered-meeting",
    )
    f.email(engine, sender=ADELE, to=[ALEX], at=LONG_AGO, activity_id="before")
    f.call(engine, owner="u-adele", contact_id="c-alex", at=MAY)
    f.email(engine, sender=BEN, to=[ALEX], at=MAY, activity_id="ben")  # DEU: not read


async def test_each_conversation_counts_once(exchange: Exchange) -> None:
    log_crm_activities(exchange)

    summary = await exchange.tick()

    crm = exchange.interaction_keys("crm")
    calls = {k for k in crm if k.startswith("crm:act-")}
    assert crm == {"crm:before", "crm:ben", *calls} and len(calls) == 1
    tracked = [r for r in exchange.rows("interaction") if r["key"] == "msg:<in-3@fabrikam.com>"]
    assert [r["source"] for r in tracked] == ["exchange"]
    assert summary.ingest.covered_by_exchange == 3  # the tracked email, the email, the meeting
    kpi = exchange.kpi("c-alex")
    assert (kpi["emails_sent"], kpi["emails_received"]) == (12 + 1 + 1, 12)
    assert (kpi["meetings_sent"], kpi["phone_calls_made"]) == (3, 1)


async def test_crm_first_then_exchange_still_counts_once(exchange: Exchange) -> None:
    log_crm_activities(exchange)
    await exchange.tick(client_id="")  # Exchange not configured yet: CRM data only
    assert "msg:<in-3@fabrikam.com>" in exchange.interaction_keys("crm")
    assert exchange.kpi("c-alex")["emails_sent"] == 3

    await exchange.tick(client_id=CLIENT_ID)

    assert "msg:<in-3@fabrikam.com>" in exchange.interaction_keys("exchange")
    assert {"crm:covered", "crm:covered-meeting"}.isdisjoint(exchange.interaction_keys())
    kpi = exchange.kpi("c-alex")
    assert (kpi["emails_sent"], kpi["emails_received"], kpi["meetings_sent"]) == (14, 12, 3)


async def test_a_mailbox_exchange_cannot_read_leaves_crm_data_counted(exchange: Exchange) -> None:
    f.user(exchange.engine, "u-cara", CARA, "Cara Lopez")
    f.email(exchange.engine, sender=CARA, to=[ALEX], at=MAY, activity_id="cara")

    await exchange.tick()

    cara = exchange.mailbox(CARA)
    assert cara["status"] == "failed" and "MailboxNotEnabledForRESTAPI" in cara["last_error"]
    assert "crm:cara" in exchange.interaction_keys("crm")
    assert exchange.mailbox(ADELE)["status"] == "ok"  # one mailbox never stops the others
