"""A meeting's invitees follow its organizer; one attendee's calendar never cancels it.

Each mailbox holds its own copy of a meeting. Exchange updates the attendees'
copies after the organizer changes the meeting, and cancels the copy of an
attendee the organizer removed; these tests make the same changes through the
emulator's admin API and check what Rapport keeps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from emulator.testing import FixtureBuilder, make_event
from tests import factories as f
from tests.graph_sync.conftest import ADELE, ALEX, BEN, NOW, Exchange

CAROL = "carol@fabrikam.com"
MAY = dt.datetime(2024, 5, 20, 9, tzinfo=dt.UTC)
OURS = "ADELE-ORGANISES"  # Adele's meeting with Alex, Carol and Ben
THEIRS = "ALEX-ORGANISES"  # Alex's (external) meeting with Adele, Ben and Carol
LATER = NOW + dt.timedelta(hours=1)


def meeting(organizer: str, answers: dict[str, str], uid: str, item_id: str) -> dict[str, Any]:
    return make_event(organizer, answers, start=MAY, ical_uid=uid, event_id=item_id)


def replica(organizer: str, answers: dict[str, str], uid: str, item_id: str) -> dict[str, Any]:
    """An attendee's copy: not the organizer's, and only its owner's answer is known."""
    return {**meeting(organizer, answers, uid, item_id), "isOrganizer": False}


def attendees(answers: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"type": "required", "status": {"response": response}, "emailAddress": {"address": a}}
        for a, response in answers.items()
    ]


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    builder = FixtureBuilder(domains=("contoso.com",)).app()
    builder.user(ADELE).user(BEN)
    ours = {ALEX: "accepted", CAROL: "accepted", BEN: "none"}
    builder.event(ADELE, meeting(ADELE, ours, OURS, "adele-ours"))
    builder.event(BEN, replica(ADELE, {**ours, BEN: "accepted"}, OURS, "ben-ours"))
    theirs = {ADELE: "none", BEN: "none", CAROL: "none"}
    builder.event(ADELE, replica(ALEX, {**theirs, ADELE: "accepted"}, THEIRS, "adele-theirs"))
    builder.event(BEN, replica(ALEX, {**theirs, BEN: "accepted"}, THEIRS, "ben-theirs"))
    return builder


@pytest.fixture
async def synced(exchange: Exchange) -> Exchange:
    f.contact(exchange.engine, "c-carol", CAROL, "Carol Diaz", "a-fab")
    await exchange.tick()
    return exchange


async def admin(exchange: Exchange, *changes: tuple[str, str, str, dict[str, Any] | None]) -> None:
    """(method, mailbox, event id, body) through the emulator's admin API over HTTP."""
    async with httpx.AsyncClient(base_url=exchange.emulator.admin_url) as client:
        for method, upn, event_id, body in changes:
            url = f"/users/{exchange.user_id(upn)}/events/{event_id}"
            reply = await client.request(method, url, json=body)
            reply.raise_for_status()


def people(exchange: Exchange, uid: str) -> dict[str, str | None]:
    return {
        row["record_id"]: row["response"]
        for row in exchange.rows("interaction_party")
        if row["interaction_key"] == f"evt:{uid}"
    }


def sighted_by(exchange: Exchange, uid: str) -> set[str]:
    return {
        row["item_id"]
        for row in exchange.rows("interaction_sighting")
        if row["interaction_key"] == f"evt:{uid}"
    }


async def test_people_removed_by_the_organizer_leave_the_meeting(synced: Exchange) -> None:
    assert people(synced, OURS) == {
        "u-adele": "accepted",
        "c-alex": "accepted",
        "c-carol": "accepted",
        "u-ben": "accepted",
    }
    assert synced.kpi("c-carol")["meetings_sent"] == 1
    # Adele takes Carol and Ben off the invitation: Ben's copy is cancelled.
    await admin(
        synced,
        ("PATCH", ADELE, "adele-ours", {"attendees": attendees({ALEX: "accepted"})}),
        ("PATCH", BEN, "ben-ours", {"isCancelled": True}),
    )

    await synced.tick(now=LATER)

    assert people(synced, OURS) == {"u-adele": "accepted", "c-alex": "accepted"}
    assert sighted_by(synced, OURS) == {"adele-ours"}
    # Carol's relationship no longer counts Adele's meeting, only Alex's.
    kpi = synced.kpi("c-carol")
    assert (kpi["meetings_sent"], kpi["meetings_received"]) == (0, 1)


async def test_a_customer_organised_meeting_follows_the_latest_copy(synced: Exchange) -> None:
    # Alex drops Carol and Ben: Adele's copy is updated, Ben's cancelled.
    await admin(
        synced,
        ("PATCH", ADELE, "adele-theirs", {"attendees": attendees({ADELE: "accepted"})}),
        ("PATCH", BEN, "ben-theirs", {"isCancelled": True}),
    )

    await synced.tick(now=LATER)

    assert people(synced, THEIRS) == {"c-alex": "accepted", "u-adele": "accepted"}
    assert sighted_by(synced, THEIRS) == {"adele-theirs"}


async def test_an_attendee_who_drops_the_meeting_does_not_cancel_it(synced: Exchange) -> None:
    # Ben declines and deletes the meeting from his calendar; Adele's copy records the answer.
    answers = {ALEX: "accepted", CAROL: "accepted", BEN: "declined"}
    await admin(
        synced,
        ("DELETE", BEN, "ben-ours", None),
        ("PATCH", ADELE, "adele-ours", {"attendees": attendees(answers)}),
    )

    await synced.tick(now=LATER)

    assert f"evt:{OURS}" in synced.interaction_keys()
    assert people(synced, OURS)["u-ben"] == "declined"
    assert sighted_by(synced, OURS) == {"adele-ours"}


@pytest.mark.parametrize(
    "withdraw",
    [("PATCH", ADELE, "adele-ours", {"isCancelled": True}), ("DELETE", ADELE, "adele-ours", None)],
    ids=["cancelled", "deleted"],
)
async def test_a_meeting_cancelled_by_its_organizer_is_removed(
    synced: Exchange, withdraw: tuple[str, str, str, dict[str, Any] | None]
) -> None:
    # Ben's calendar has not caught up yet: his copy still shows the meeting.
    await admin(synced, withdraw)

    await synced.tick(now=LATER)

    assert f"evt:{OURS}" not in synced.interaction_keys()
    assert sighted_by(synced, OURS) == set()
    assert people(synced, OURS) == {}
    assert f"evt:{THEIRS}" in synced.interaction_keys()
    # When his copy is cancelled too, nothing is left to change.
    await admin(synced, ("PATCH", BEN, "ben-ours", {"isCancelled": True}))
    summary = await synced.tick(now=LATER + dt.timedelta(hours=1))
    assert summary.exchange is not None and summary.exchange.tenant is not None
    assert sum(m.counters.removed for m in summary.exchange.tenant.mailboxes) == 0


async def test_an_attendee_copy_neither_adds_nor_removes_people(synced: Exchange) -> None:
    # Adele removes Carol; Ben's copy, not yet updated, still lists her, and Ben
    # changes his answer to tentative.
    await admin(
        synced,
        ("PATCH", ADELE, "adele-ours", {"attendees": attendees({ALEX: "accepted", BEN: "none"})}),
        (
            "PATCH",
            BEN,
            "ben-ours",
            {"attendees": attendees({ALEX: "none", CAROL: "none", BEN: "tentativelyAccepted"})},
        ),
    )

    await synced.tick(now=LATER)

    assert people(synced, OURS) == {
        "u-adele": "accepted",
        "c-alex": "accepted",
        "u-ben": "tentative",
    }
    again = await synced.tick(now=LATER + dt.timedelta(hours=1))
    assert again.exchange is not None and again.exchange.tenant is not None
    assert sum(m.counters.updated for m in again.exchange.tenant.mailboxes) == 0
