"""One message or meeting in two mailboxes is one interaction, until both let it go."""

from __future__ import annotations

import datetime as dt

import pytest

from emulator.fixture import stable_id
from emulator.testing import FixtureBuilder, make_event, make_message
from tests.graph_sync.conftest import ADELE, ALEX, BEN, NOW, Exchange

MAY = dt.datetime(2024, 5, 20, 9, tzinfo=dt.UTC)
SHARED = "<shared@fabrikam.com>"
MEETING = "SHARED-MEETING-UID"


@pytest.fixture
def fixture_builder() -> FixtureBuilder:
    builder = FixtureBuilder(domains=("contoso.com",)).app()
    builder.user(ADELE).user(BEN)
    for upn, message_id in ((ADELE, "adele-copy"), (BEN, "ben-copy")):
        builder.message(
            upn,
            make_message(
                ALEX, [ADELE, BEN], received=MAY, internet_message_id=SHARED, message_id=message_id
            ),
        )
    # Each calendar knows only its owner's answer; together they know both.
    builder.event(
        ADELE,
        make_event(
            ADELE,
            {ALEX: "accepted", BEN: "none"},
            start=MAY,
            ical_uid=MEETING,
            event_id="adele-meeting",
        ),
    )
    builder.event(
        BEN,
        {
            **make_event(
                ADELE,
                {ALEX: "none", BEN: "tentativelyAccepted"},
                start=MAY,
                ical_uid=MEETING,
                event_id="ben-meeting",
            ),
            "isOrganizer": False,
        },
    )
    return builder


def parties(exchange: Exchange, key: str) -> set[tuple[str, str, str | None]]:
    return {
        (row["record_id"], row["role"], row["response"])
        for row in exchange.rows("interaction_party")
        if row["interaction_key"] == key
    }


async def test_an_item_in_two_mailboxes_counts_once(exchange: Exchange) -> None:
    await exchange.tick()

    assert exchange.interaction_keys() == {f"msg:{SHARED}", f"evt:{MEETING}"}
    assert len(exchange.rows("interaction_sighting")) == 4
    assert parties(exchange, f"msg:{SHARED}") == {
        ("c-alex", "from", None),
        ("u-adele", "to", None),
        ("u-ben", "to", None),
    }
    assert parties(exchange, f"evt:{MEETING}") == {
        ("u-adele", "organizer", "accepted"),
        ("c-alex", "required", "accepted"),
        ("u-ben", "required", "tentative"),
    }
    assert exchange.kpi("c-alex")["emails_received"] == 1


async def test_it_survives_removal_from_one_mailbox(exchange: Exchange) -> None:
    await exchange.tick()
    exchange.emulator.delete_message(ADELE, "adele-copy")
    # Ben drops the meeting from his calendar; Adele organizes it, so it goes on.
    exchange.emulator.delete_event(BEN, "ben-meeting")

    await exchange.tick(now=NOW + dt.timedelta(hours=1))

    assert exchange.interaction_keys() == {f"msg:{SHARED}", f"evt:{MEETING}"}
    sightings = {(r["mailbox_id"], r["item_id"]) for r in exchange.rows("interaction_sighting")}
    ben, adele = exchange.user_id(BEN), exchange.user_id(ADELE)
    assert sightings == {(ben, "ben-copy"), (adele, "adele-meeting")}

    exchange.emulator.delete_message(BEN, "ben-copy")
    exchange.emulator.delete_event(ADELE, "adele-meeting")
    await exchange.tick(now=NOW + dt.timedelta(hours=2))

    assert exchange.interaction_keys() == set()
    assert exchange.rows("interaction_party") == []


def test_message_ids_are_per_mailbox() -> None:
    # The fixture above relies on explicit ids: the emulator would otherwise derive
    # the same id for both copies from the Internet message id.
    assert stable_id("message", SHARED) not in ("adele-copy", "ben-copy")
