"""An expired delta token (410 Gone, syncStateNotFound) re-baselines that folder only."""

from __future__ import annotations

import datetime as dt

import pytest

from emulator.fixture import stable_id
from emulator.testing import make_event, make_message
from tests.graph_sync.conftest import ADELE, ALEX, NOW, Exchange

LATER = NOW + dt.timedelta(hours=1)
MAY = dt.datetime(2024, 5, 25, 9, tzinfo=dt.UTC)
UID = "040000008200E00074C5B7101A82E0080000"


def change_folder(exchange: Exchange, folder: str) -> tuple[str, str]:
    """Add one item and delete one while the folder's token is expired; their keys."""
    if folder == "calendar":
        exchange.emulator.add_event(
            ADELE, make_event(ADELE, {ALEX: "accepted"}, start=MAY, ical_uid="AFTER-EXPIRY")
        )
        exchange.emulator.delete_event(ADELE, stable_id("event", f"{UID}0"))
        return "evt:AFTER-EXPIRY", f"evt:{UID}0"
    exchange.emulator.add_message(
        ADELE, make_message(ALEX, [ADELE], received=MAY, internet_message_id="<late@f>")
    )
    exchange.emulator.delete_message(ADELE, stable_id("message", "<in-0@fabrikam.com>"))
    return "msg:<late@f>", "msg:<in-0@fabrikam.com>"


@pytest.mark.parametrize(("folder", "mode"), [("inbox", "gone"), ("calendar", "syncStateNotFound")])
async def test_only_the_expired_folder_is_re_read(
    exchange: Exchange, folder: str, mode: str
) -> None:
    await exchange.tick(page_size=10)
    before = exchange.interaction_keys("exchange")
    exchange.emulator.expire_delta(ADELE, folder, mode)
    added, deleted = change_folder(exchange, folder)
    exchange.requests.clear()

    summary = await exchange.tick(now=LATER, page_size=10)

    assert summary.exchange is not None and summary.exchange.tenant is not None
    [mailbox] = summary.exchange.tenant.mailboxes
    assert mailbox.status == "ok" and mailbox.counters.rebaselines == 1
    assert exchange.interaction_keys("exchange") == before - {deleted} | {added}
    # No duplicates and nothing stale: one sighting per interaction, all in the new round.
    sightings = exchange.rows("interaction_sighting")
    assert sorted(s["interaction_key"] for s in sightings) == sorted(before - {deleted} | {added})
    cursors = {c["folder_id"]: c for c in exchange.rows("sync_cursor")}
    expired_id = (
        "calendar"
        if folder == "calendar"
        else exchange.emulator.state.mailbox(ADELE).folder(folder).spec.id
    )
    assert {f: c["rebaselines"] for f, c in cursors.items() if c["rebaselines"]} == {expired_id: 1}
    assert all(c["delta_link"] and c["baseline_complete"] for c in cursors.values())
    # The other folders went on from their delta links: only the expired one restarted.
    fresh = [
        r.path
        for r in exchange.requests
        if "delta" in r.path and not (r.query.get("$deltatoken") or r.query.get("$skiptoken"))
    ]
    assert len(fresh) == 1 and (folder in fresh[0].lower() or expired_id in fresh[0])


async def test_a_second_round_after_the_re_baseline_is_quiet(exchange: Exchange) -> None:
    await exchange.tick()
    exchange.emulator.expire_delta(ADELE, "sentitems", "gone")
    await exchange.tick(now=LATER)
    before = exchange.dump("interaction", "interaction_party", "interaction_sighting")

    summary = await exchange.tick(now=LATER + dt.timedelta(hours=1))

    assert summary.exchange is not None and summary.exchange.tenant is not None
    counters = summary.exchange.tenant.mailboxes[0].counters
    assert (counters.added, counters.updated, counters.removed, counters.rebaselines) == (0,) * 4
    assert exchange.dump("interaction", "interaction_party", "interaction_sighting") == before
