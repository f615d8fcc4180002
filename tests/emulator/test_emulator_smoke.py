from __future__ import annotations

import httpx

from emulator.app import Emulator


async def test_users_and_inbox_delta(graph: httpx.AsyncClient, emulator: Emulator) -> None:
    users = (await graph.get("/users", params={"$select": "id,mail,preferredDataLocation"})).json()
    assert {u["mail"] for u in users["value"]} == {"adele@contoso.com", "ben@contoso.com"}
    page = await graph.get(
        "/users/adele@contoso.com/mailFolders/inbox/messages/delta()",
        params={"$select": "internetMessageId,from,receivedDateTime"},
        headers={"Prefer": "odata.maxpagesize=5"},
    )
    assert page.status_code == 200, page.text
    assert page.headers["Preference-Applied"] == "odata.maxpagesize=5"
    body = page.json()
    assert len(body["value"]) == 5 and "@odata.nextLink" in body
    seen = [m["internetMessageId"] for m in body["value"]]
    while "@odata.nextLink" in body:
        body = (
            await graph.get(body["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=5"})
        ).json()
        seen += [m["internetMessageId"] for m in body["value"]]
    assert len(seen) == 12
    assert "@odata.deltaLink" in body
    again = (await graph.get(body["@odata.deltaLink"])).json()
    assert again["value"] == [] and "@odata.deltaLink" in again
