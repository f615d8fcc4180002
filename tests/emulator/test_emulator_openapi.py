"""Every endpoint's JSON validates against the same operation in Microsoft's OpenAPI, whose
copies the checkout carries (tests/test_checkout_alone.py: nothing the suite reads lies
outside it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_openapi import OPENAPI_DIR, assert_valid, document  # type: ignore[import-not-found]

from emulator.app import Emulator
from emulator.testing import CLIENT_ID, fetch_token

CHECKOUT = Path(__file__).resolve().parents[2]
ADELE = "adele@contoso.com"
MAIL = "Mail.yml"
FUNCTIONS = "Users.Functions.yml"
WINDOW = {"startDateTime": "2024-05-01T00:00:00Z", "endDateTime": "2024-06-01T00:00:00Z"}
PREFER = {"Prefer": "odata.maxpagesize=5"}


async def test_users(graph: httpx.AsyncClient) -> None:
    listed = (await graph.get("/users", params={"$top": "1"})).json()
    assert_valid(listed, "Users.yml", "/users")
    selected = (
        await graph.get("/users", params={"$select": "id,mail,preferredDataLocation"})
    ).json()
    assert_valid(selected, "Users.yml", "/users")
    one = (await graph.get(f"/users/{ADELE}")).json()
    assert_valid(one, "Users.yml", "/users/{user-id}")


async def test_organization(emulator: Emulator, graph: httpx.AsyncClient) -> None:
    denied = await graph.get("/organization")
    assert denied.status_code == 403
    assert_valid(denied.json(), "Identity.DirectoryManagement.yml", "/organization", "default")
    emulator.grant_role(CLIENT_ID, "Organization.Read.All")
    token = await fetch_token(emulator)  # roles are fixed in a token: a new one carries the grant
    reply = await graph.get("/organization", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200
    assert_valid(reply.json(), "Identity.DirectoryManagement.yml", "/organization")


async def test_validator_rejects_a_malformed_message(
    graph: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.add_fault(kind="malformed", malformed="from")
    body = (await graph.get(f"/users/{ADELE}/mailFolders/inbox/messages/delta")).json()
    with pytest.raises(AssertionError, match="from"):
        assert_valid(
            body,
            FUNCTIONS,
            "/users/{user-id}/mailFolders/{mailFolder-id}/messages/microsoft.graph.delta()",
        )


async def test_mail_folders(graph: httpx.AsyncClient) -> None:
    folders = (await graph.get(f"/users/{ADELE}/mailFolders", params={"$top": "3"})).json()
    assert_valid(folders, MAIL, "/users/{user-id}/mailFolders")
    inbox = (await graph.get(f"/users/{ADELE}/mailFolders/inbox")).json()
    assert_valid(inbox, MAIL, "/users/{user-id}/mailFolders/{mailFolder-id}")
    children = (await graph.get(f"/users/{ADELE}/mailFolders/inbox/childFolders")).json()
    assert_valid(children, MAIL, "/users/{user-id}/mailFolders/{mailFolder-id}/childFolders")


@pytest.mark.parametrize(
    "select", [None, "internetMessageId,from,toRecipients,ccRecipients,receivedDateTime"]
)
async def test_message_delta_pages(
    graph: httpx.AsyncClient, emulator: Emulator, select: str | None
) -> None:
    path = "/users/{user-id}/mailFolders/{mailFolder-id}/messages/microsoft.graph.delta()"
    params = {"$select": select} if select else None
    body = (
        await graph.get(
            f"/users/{ADELE}/mailFolders/inbox/messages/delta", params=params, headers=PREFER
        )
    ).json()
    assert_valid(body, FUNCTIONS, path)
    while "@odata.nextLink" in body:
        body = (await graph.get(body["@odata.nextLink"], headers=PREFER)).json()
        assert_valid(body, FUNCTIONS, path)
    emulator.delete_message(
        ADELE,
        emulator.state.mailbox(ADELE).folder("inbox").collection.baseline.items(0, 1)[0]["id"],
    )
    changes = (await graph.get(body["@odata.deltaLink"])).json()
    assert changes["value"][0]["@removed"] == {"reason": "deleted"}
    assert_valid(changes, FUNCTIONS, path)


async def test_calendar_view_delta(graph: httpx.AsyncClient) -> None:
    body = (await graph.get(f"/users/{ADELE}/calendarView/delta", params=WINDOW)).json()
    assert body["value"]
    assert_valid(body, FUNCTIONS, "/users/{user-id}/calendarView/microsoft.graph.delta()")


async def test_error_bodies(graph: httpx.AsyncClient) -> None:
    for path in ("/users/ghost@contoso.com", f"/users/{ADELE}/calendarView/delta", "/nowhere"):
        reply = await graph.get(path)
        assert reply.status_code >= 400
        assert_valid(reply.json(), "Users.yml", "/users/{user-id}", "default")


def test_the_openapi_copies_are_in_the_checkout_and_self_contained() -> None:
    assert OPENAPI_DIR.is_relative_to(CHECKOUT)
    listed = [
        line.split(" ", 1)
        for line in (OPENAPI_DIR / "operations.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert listed
    for file, path in listed:
        assert "get" in document(file)["paths"][path], f"{file} {path}"
    for file in {file for file, _ in listed}:
        doc = document(file)
        for ref in _references(doc):
            section, name = ref.removeprefix("#/components/").split("/", 1)
            assert name in doc["components"][section], f"{file}: dangling {ref}"


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)
