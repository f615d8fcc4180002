"""Baseline, then changes made through the emulator's admin API: exactly the right rows."""

from __future__ import annotations

import datetime as dt

import httpx

from emulator.fixture import stable_id
from emulator.testing import make_event, make_message
from tests import factories as f
from tests.graph_sync.conftest import ADELE, ALEX, NOW, Exchange

CAROL = "carol@fabrikam.com"
UID = "040000008200E00074C5B7101A82E0080000{}"


def message_id(internet_message_id: str) -> str:
    return stable_id("message", internet_message_id)


def event_id(n: int) -> str:
    return stable_id("event", UID.format(n))


async def change_mailbox(admin_url: str, adele: str) -> None:
    async with httpx.AsyncClient(base_url=f"{admin_url}/users/{adele}") as admin:
        new = make_message(
            ALEX,
            [ADELE],
            received=dt.datetime(2024, 5, 25, 8, tzinfo=dt.UTC),
            internet_message_id="<new@fabrikam.com>",
        )
        replies = [
            await admin.post("/mailFolders/inbox/messages", json=new),
            await admin.patch(
                f"/messages/{message_id('<out-3@contoso.com>')}",
                json={"ccRecipients": [{"emailAddress": {"address": CAROL}}]},
            ),
            await admin.delete(f"/messages/{message_id('<in-0@fabrikam.com>')}"),
            await admin.post(
                "/events",
                json=make_event(
                    ADELE,
                    {ALEX: "accepted"},
                    start=dt.datetime(2024, 6, 10, 9, tzinfo=dt.UTC),
                    ical_uid="NEW-MEETING",
                ),
            ),
            await admin.patch(f"/events/{event_id(1)}", json={"isCancelled": True}),
            await admin.delete(f"/events/{event_id(2)}"),
            await admin.patch(
                f"/events/{event_id(0)}",
                json={
                    "start": {"dateTime": "2024-05-14T15:00:00.0000000", "timeZone": "UTC"},
                    "end": {"dateTime": "2024-05-14T16:00:00.0000000", "timeZone": "UTC"},
                    "attendees": [
                        {
                            "type": "required",
                            "status": {"response": "declined"},
                            "emailAddress": {"address": ALEX},
                        }
                    ],
                },
            ),
        ]
    for reply in replies:
        reply.raise_for_status()


def parties(exchange: Exchange, key: str) -> set[tuple[str, str, str | None]]:
    return {
        (row["record_id"], row["role"], row["response"])
        for row in exchange.rows("interaction_party")
        if row["interaction_key"] == key
    }


async def test_changes_since_the_baseline_land_exactly(exchange: Exchange) -> None:
    f.contact(exchange.engine, "c-carol", CAROL, "Carol Diaz", "a-fab")
    await exchange.tick()
    baseline = exchange.interaction_keys("exchange")
    await change_mailbox(exchange.emulator.admin_url, exchange.user_id(ADELE))

    summary = await exchange.tick(now=NOW + dt.timedelta(hours=1))

    assert summary.exchange is not None and summary.exchange.tenant is not None
    counters = summary.exchange.tenant.mailboxes[0].counters
    assert (counters.added, counters.updated, counters.removed) == (2, 2, 3)
    gone = {"msg:<in-0@fabrikam.com>", f"evt:{UID.format(1)}", f"evt:{UID.format(2)}"}
    assert exchange.interaction_keys("exchange") == (
        baseline - gone | {"msg:<new@fabrikam.com>", "evt:NEW-MEETING"}
    )
    assert ("c-carol", "cc", None) in parties(exchange, "msg:<out-3@contoso.com>")
    moved = next(r for r in exchange.rows("interaction") if r["key"] == f"evt:{UID.format(0)}")
    assert moved["occurred_at"] == dt.datetime(2024, 5, 14, 15, tzinfo=dt.UTC)
    assert moved["duration_minutes"] == 60
    assert ("c-alex", "required", "declined") in parties(exchange, f"evt:{UID.format(0)}")
    # One sighting per stored item, none left behind by the removals.
    sighted = {row["interaction_key"] for row in exchange.rows("interaction_sighting")}
    assert sighted == exchange.interaction_keys("exchange")


async def test_a_round_without_changes_writes_nothing(exchange: Exchange) -> None:
    await exchange.tick()
    await change_mailbox(exchange.emulator.admin_url, exchange.user_id(ADELE))
    await exchange.tick()
    before = exchange.dump("interaction", "interaction_party", "interaction_sighting")

    summary = await exchange.tick()

    assert summary.exchange is not None and summary.exchange.tenant is not None
    counters = summary.exchange.tenant.mailboxes[0].counters
    assert (counters.added, counters.updated, counters.removed) == (0, 0, 0)
    assert exchange.dump("interaction", "interaction_party", "interaction_sighting") == before
