"""Graph semantics over plain HTTP: permissions, ReadBasic, errors, batch, changes, expiry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.app import Emulator
from emulator.testing import (
    CANARY,
    FixtureBuilder,
    fetch_token,
    make_event,
    make_message,
    running_emulator,
)

ADELE = "adele@contoso.com"
INBOX_DELTA = f"/users/{ADELE}/mailFolders/inbox/messages/delta"
CALENDAR_DELTA = f"/users/{ADELE}/calendarView/delta"
WINDOW = {"startDateTime": "2024-05-01T00:00:00Z", "endDateTime": "2024-06-01T00:00:00Z"}
PREFER = {"Prefer": "odata.maxpagesize=100"}


async def drain(
    client: httpx.AsyncClient, url: str, **params: Any
) -> tuple[list[dict[str, Any]], str]:
    reply = await client.get(url, params=params or None, headers=PREFER)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    items = list(body["value"])
    while "@odata.nextLink" in body:
        body = (await client.get(body["@odata.nextLink"], headers=PREFER)).json()
        items += body["value"]
    return items, body["@odata.deltaLink"]


async def client_with_roles(em: Emulator, roles: list[str]) -> httpx.AsyncClient:
    em.set_roles("0e1d2c3b-0000-4000-8000-0000000a4401", roles)
    token = await fetch_token(em)
    return httpx.AsyncClient(base_url=em.graph_url, headers={"Authorization": f"Bearer {token}"})


async def test_read_basic_never_returns_body_even_when_selected(graph: httpx.AsyncClient) -> None:
    items, _ = await drain(
        graph, INBOX_DELTA, **{"$select": "subject,body,bodyPreview,uniqueBody,from"}
    )
    assert items and all(
        "body" not in m and "bodyPreview" not in m and "uniqueBody" not in m for m in items
    )
    assert all(CANARY in m["subject"] for m in items)  # subject is metadata under ReadBasic
    events, _ = await drain(graph, CALENDAR_DELTA, **WINDOW)
    assert events and all("body" not in e and "bodyPreview" not in e for e in events)


async def test_full_read_returns_body(emulator: Emulator) -> None:
    async with await client_with_roles(emulator, ["Mail.Read"]) as client:
        items, _ = await drain(client, INBOX_DELTA, **{"$select": "body"})
    assert all(CANARY in m["body"]["content"] for m in items)


@pytest.mark.parametrize(
    ("roles", "path", "params", "status", "code"),
    [
        (["User.Read.All"], INBOX_DELTA, {}, 403, "ErrorAccessDenied"),
        (["User.Read.All"], CALENDAR_DELTA, WINDOW, 403, "ErrorAccessDenied"),
        (["Mail.ReadBasic.All"], "/users", {}, 403, "Authorization_RequestDenied"),
        (["Mail.ReadBasic.All"], f"/users/{ADELE}/mailFolders", {}, 200, None),
        (["User.Read.All"], "/organization", {}, 403, "Authorization_RequestDenied"),
        (["Organization.Read.All"], "/organization", {}, 200, None),
    ],
)
async def test_permission_semantics(
    emulator: Emulator,
    roles: list[str],
    path: str,
    params: dict[str, str],
    status: int,
    code: str | None,
) -> None:
    async with await client_with_roles(emulator, roles) as client:
        reply = await client.get(path, params=params)
    assert reply.status_code == status
    if code:
        error = reply.json()["error"]
        assert error["code"] == code
        assert error["innerError"]["request-id"] == reply.headers["request-id"]


async def test_missing_or_bad_token_is_401(emulator: Emulator) -> None:
    async with httpx.AsyncClient(base_url=emulator.graph_url) as client:
        missing = await client.get("/users", headers={"client-request-id": "abc"})
        forged = await client.get("/users", headers={"Authorization": "Bearer a.b.c"})
    assert missing.status_code == forged.status_code == 401
    assert missing.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert missing.headers["client-request-id"] == "abc" and missing.headers["request-id"]


async def test_users_filter_select_and_lookup(graph: httpx.AsyncClient, emulator: Emulator) -> None:
    reply = await graph.get(
        "/users",
        params={"$filter": "mail eq 'ben@contoso.com'", "$select": "id,preferredDataLocation"},
    )
    [ben] = reply.json()["value"]
    assert ben["preferredDataLocation"] == "DEU" and set(ben) == {"id", "preferredDataLocation"}
    by_id = (await graph.get(f"/users/{ben['id']}")).json()
    assert by_id["userPrincipalName"] == "ben@contoso.com"
    assert "preferredDataLocation" not in by_id  # not in Graph's default projection
    missing = await graph.get("/users/nobody@contoso.com")
    assert (
        missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"
    )
    unsupported = await graph.get("/users", params={"$filter": "startswith(mail,'a')"})
    assert unsupported.status_code == 400


async def test_changes_after_baseline_appear_in_next_round(
    graph: httpx.AsyncClient, emulator: Emulator
) -> None:
    items, delta_link = await drain(graph, INBOX_DELTA, **{"$select": "internetMessageId,isRead"})
    added = emulator.add_message(
        ADELE,
        make_message(
            "alex@fabrikam.com",
            [ADELE],
            received=dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
            internet_message_id="<new@fabrikam.com>",
        ),
    )
    emulator.update_message(ADELE, items[3]["id"], {"isRead": False})
    emulator.delete_message(ADELE, items[5]["id"])
    changes, delta_link = await drain(graph, delta_link)
    by_id = {c["id"]: c for c in changes}
    assert by_id[added["id"]]["internetMessageId"] == "<new@fabrikam.com>"
    assert set(by_id[added["id"]]) == {"id", "internetMessageId", "isRead"}  # $select carried over
    assert by_id[items[3]["id"]]["isRead"] is False
    assert by_id[items[5]["id"]] == {"id": items[5]["id"], "@removed": {"reason": "deleted"}}
    quiet, _ = await drain(graph, delta_link)
    assert quiet == []


async def test_calendar_changes_and_cancellation(
    graph: httpx.AsyncClient, emulator: Emulator
) -> None:
    events, delta_link = await drain(graph, CALENDAR_DELTA, **WINDOW)
    assert len(events) == 3 and events[0]["attendees"][0]["status"]["response"] == "accepted"
    emulator.update_event(ADELE, events[0]["id"], {"isCancelled": True})
    emulator.delete_event(ADELE, events[1]["id"])
    outside = emulator.add_event(
        ADELE, make_event(ADELE, {}, start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    )
    changes, _ = await drain(graph, delta_link)
    assert {c["id"] for c in changes} == {events[0]["id"], events[1]["id"]}
    assert outside["id"] not in {c["id"] for c in changes}
    assert next(c for c in changes if c["id"] == events[0]["id"])["isCancelled"] is True


async def test_calendar_requires_window(graph: httpx.AsyncClient) -> None:
    reply = await graph.get(CALENDAR_DELTA)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "ErrorInvalidParameter"


@pytest.mark.parametrize("mode", ["gone", "syncStateNotFound"])
async def test_expired_delta_token(graph: httpx.AsyncClient, emulator: Emulator, mode: str) -> None:
    _, delta_link = await drain(graph, INBOX_DELTA)
    emulator.expire_delta(ADELE, "inbox", mode)
    reply = await graph.get(delta_link)
    if mode == "gone":
        assert reply.status_code == 410
        restart = reply.headers["Location"]
        assert restart.endswith("$deltatoken=")
        items, _ = await drain(graph, restart)
        assert len(items) == 12
    else:
        assert reply.status_code == 400 and reply.json()["error"]["code"] == "syncStateNotFound"


async def test_expired_calendar_location_keeps_window(
    graph: httpx.AsyncClient, emulator: Emulator
) -> None:
    _, delta_link = await drain(graph, CALENDAR_DELTA, **WINDOW)
    emulator.expire_delta(ADELE, "calendar")
    reply = await graph.get(delta_link)
    assert reply.status_code == 410
    items, _ = await drain(graph, reply.headers["Location"])
    assert len(items) == 3


async def test_batch_answers_each_request(graph: httpx.AsyncClient) -> None:
    requests = [
        {"id": "1", "method": "GET", "url": "/users?$select=id"},
        {"id": "2", "method": "GET", "url": f"{INBOX_DELTA}?$select=id", "headers": PREFER},
        {"id": "3", "method": "GET", "url": "/users/ghost@contoso.com"},
    ]
    reply = await graph.post("/$batch", json={"requests": requests})
    answers = {r["id"]: r for r in reply.json()["responses"]}
    assert answers["1"]["status"] == 200 and len(answers["1"]["body"]["value"]) == 2
    assert answers["2"]["status"] == 200 and len(answers["2"]["body"]["value"]) == 12
    assert answers["3"]["status"] == 404
    too_many = await graph.post(
        "/$batch",
        json={"requests": [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]},
    )
    assert too_many.status_code == 400


async def test_admin_http_api(emulator: Emulator, graph: httpx.AsyncClient) -> None:
    items, delta_link = await drain(graph, INBOX_DELTA)
    async with httpx.AsyncClient(base_url=emulator.admin_url) as admin:
        added = await admin.post(
            f"/users/{ADELE}/mailFolders/inbox/messages",
            json=make_message(
                "alex@fabrikam.com", [ADELE], received=dt.datetime(2024, 7, 1, tzinfo=dt.UTC)
            ),
        )
        assert added.status_code == 201
        assert (
            await admin.patch(f"/users/{ADELE}/messages/{items[0]['id']}", json={"isRead": False})
        ).status_code == 200
        assert (await admin.delete(f"/users/{ADELE}/messages/{items[1]['id']}")).status_code == 204
        assert (await admin.delete(f"/users/{ADELE}/messages/nope")).status_code == 404
        fault = await admin.post("/faults", json={"kind": "throttle", "every": 2, "retry_after": 3})
        assert fault.status_code == 201
        assert (await admin.delete("/faults")).status_code == 204
        assert (
            await admin.post(f"/users/{ADELE}/mailFolders/inbox/expire", json={"mode": "gone"})
        ).status_code == 204
        stats = (await admin.get("/stats")).json()
    assert stats["requests"] >= 2 and stats["throttled"] == 0
    assert (await graph.get(delta_link)).status_code == 410


async def test_folder_paging_and_child_folders(tmp_path: Path) -> None:
    builder = FixtureBuilder.standard().child_folder(ADELE, "inbox", "Customers")
    async with running_emulator(builder.build(), workdir=tmp_path) as em:
        token = await fetch_token(em)
        async with httpx.AsyncClient(
            base_url=em.graph_url, headers={"Authorization": f"Bearer {token}"}
        ) as c:
            first = (await c.get(f"/users/{ADELE}/mailFolders", params={"$top": "4"})).json()
            second = (await c.get(first["@odata.nextLink"])).json()
            assert len(first["value"]) == 4 and len(second["value"]) == 3
            inbox = next(f for f in first["value"] + second["value"] if f["displayName"] == "Inbox")
            assert inbox["childFolderCount"] == 1
            children = (
                await c.get(f"/users/{ADELE}/mailFolders/{inbox['id']}/childFolders")
            ).json()
            assert [f["displayName"] for f in children["value"]] == ["Customers"]
