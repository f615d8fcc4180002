"""Change tracking: delta links after a baseline, deleted entities, expired tokens."""

from __future__ import annotations

from typing import Any

import httpx

from emulator.dataverse.testing import LoopbackDataverse, rid

TRACK = {"Prefer": "odata.track-changes,odata.maxpagesize=2"}


async def _baseline(client: httpx.AsyncClient, table: str, select: str) -> tuple[list[Any], str]:
    rows: list[Any] = []
    reply = await client.get(table, params={"$select": select}, headers=TRACK)
    page = reply.json()
    assert "odata.track-changes" in reply.headers["Preference-Applied"]
    while True:
        rows += page["value"]
        if "@odata.deltaLink" in page:
            return rows, page["@odata.deltaLink"]
        page = (await client.get(page["@odata.nextLink"], headers=TRACK)).json()


async def test_delta_link_returns_created_updated_and_deleted_rows(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    rows, delta = await _baseline(client, "contacts", "fullname,emailaddress1")
    assert len(rows) == 3
    added = dv.dataverse.add_row("contacts", {"firstname": "Eve", "fullname": "Eve Park"})
    dv.dataverse.update_row("contacts", rid("contact", "bea"), {"emailaddress1": "bea@new.example"})
    dv.dataverse.delete_row("contacts", rid("contact", "chen"))

    changes: list[Any] = []
    page = (await client.get(delta, headers=TRACK)).json()
    assert page["@odata.context"].endswith("/$delta")
    while "@odata.nextLink" in page:
        changes += page["value"]
        page = (await client.get(page["@odata.nextLink"], headers=TRACK)).json()
    changes += page["value"]
    deleted = [c for c in changes if str(c.get("@odata.context", "")).endswith("$deletedEntity")]
    assert deleted == [
        {
            "@odata.context": f"{dv.api_url}/$metadata#contacts/$deletedEntity",
            "id": rid("contact", "chen"),
            "reason": "deleted",
        }
    ]
    current = {c["contactid"]: c for c in changes if "contactid" in c}
    assert set(current) == {added["contactid"], rid("contact", "bea")}
    assert current[rid("contact", "bea")]["emailaddress1"] == "bea@new.example"
    assert set(current[added["contactid"]]) == {
        "@odata.etag",
        "fullname",
        "emailaddress1",
        "contactid",
    }
    again = (await client.get(page["@odata.deltaLink"], headers=TRACK)).json()
    assert again["value"] == []


async def test_a_change_made_while_paging_is_served_by_the_next_delta(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    first = (await client.get("contacts", params={"$select": "fullname"}, headers=TRACK)).json()
    served = {r["contactid"] for r in first["value"]}
    changed = next(iter(served))
    dv.dataverse.update_row("contacts", changed, {"jobtitle": "CFO"})
    rest = (await client.get(first["@odata.nextLink"], headers=TRACK)).json()
    assert len(served | {r["contactid"] for r in rest["value"]}) == 3
    delta = (await client.get(rest["@odata.deltaLink"], headers=TRACK)).json()
    assert [r["contactid"] for r in delta["value"]] == [changed]


async def test_expired_delta_link_is_refused_then_a_new_baseline_works(
    client: httpx.AsyncClient, dv: LoopbackDataverse
) -> None:
    _, contacts_delta = await _baseline(client, "contacts", "fullname")
    _, leads_delta = await _baseline(client, "leads", "fullname")
    dv.dataverse.expire_delta("contacts")
    refused = await client.get(contacts_delta, headers=TRACK)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "0x80044352"
    assert "full sync" in refused.json()["error"]["message"]
    assert (await client.get(leads_delta, headers=TRACK)).status_code == 200  # only that table
    rows, fresh = await _baseline(client, "contacts", "fullname")
    assert len(rows) == 3
    assert (await client.get(fresh, headers=TRACK)).json()["value"] == []


async def test_change_tracking_refuses_filter(client: httpx.AsyncClient) -> None:
    reply = await client.get("contacts", params={"$filter": "statecode eq 0"}, headers=TRACK)
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "0x80060888"
