"""Synthetic tenants: the generator, the CRM seed, on-demand mailboxes and the fast path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import msgspec
from emulator_openapi import assert_valid  # type: ignore[import-not-found]
from typer.testing import CliRunner

from emulator.cli import app
from emulator.fixture import load_fixture_dict
from emulator.generator import crm_path_for, generate_tenant
from emulator.state import TenantState
from emulator.testing import fetch_token, running_emulator

SELECT = (
    "internetMessageId,conversationId,from,toRecipients,ccRecipients,sentDateTime,receivedDateTime"
)


def test_generate_cli_writes_fixture_and_crm_seed(tmp_path: Path) -> None:
    out = tmp_path / "tenant.json"
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--users",
            "20",
            "--messages-per-user",
            "300",
            "--seed",
            "5",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    fixture = json.loads(out.read_text())
    crm = json.loads(crm_path_for(out).read_text())
    assert len(fixture["users"]) == 20 and fixture["generated"]["messagesPerUser"] == 300
    assert {u["email"] for u in crm["systemUsers"]} == {u["mail"] for u in fixture["users"]}
    assert crm["accounts"] and all(c["accountId"] for c in crm["contacts"])
    locations = {u["preferredDataLocation"] for u in fixture["users"]}
    assert locations & {"DEU", "GBR"} and None in locations
    again, _ = generate_tenant(users=20, messages_per_user=300, seed=5)
    assert again == fixture  # deterministic


def _mailbox_messages(fixture: dict[str, Any], user: int, folder: str) -> list[dict[str, Any]]:
    state = TenantState(load_fixture_dict(fixture))
    baseline = state.mailbox(fixture["users"][user]["id"]).folder(folder).collection.baseline
    return baseline.items(0, len(baseline))


def test_synthetic_mail_is_realistic_and_deterministic() -> None:
    fixture, crm = generate_tenant(users=5, messages_per_user=2000, seed=9)
    inbox = _mailbox_messages(fixture, 0, "inbox")
    sent = _mailbox_messages(fixture, 0, "sentitems")
    assert len(inbox) + len(sent) == 2000
    assert inbox == _mailbox_messages(fixture, 0, "inbox")
    conversations = {m["conversationId"] for m in inbox} & {m["conversationId"] for m in sent}
    assert len(conversations) > 100  # reply chains span both folders
    counterparts: dict[str, int] = {}
    for message in inbox:
        address = message["from"]["emailAddress"]["address"]
        counterparts[address] = counterparts.get(address, 0) + 1
    ranked = sorted(counterparts.values(), reverse=True)
    assert ranked[0] > 5 * ranked[len(ranked) // 2]  # heavy-tailed contact frequency
    crm_emails = {e for c in crm["contacts"] for e in c["emails"]}
    external = {a for a in counterparts if not a.endswith(fixture["tenant"]["verifiedDomains"][0])}
    assert external & crm_emails and external - crm_emails  # most, not all, are CRM contacts
    internet_ids = [m["internetMessageId"] for m in inbox + sent]
    assert len(set(internet_ids)) == len(internet_ids)


async def test_large_tenant_serves_on_demand(tmp_path: Path) -> None:
    # 2,000 users x 100,000 messages: nothing is generated until a page is read.
    fixture, _ = generate_tenant(users=2000, messages_per_user=100_000, seed=2, events_per_user=20)
    async with running_emulator(fixture, workdir=tmp_path) as em:
        app_reg = fixture["apps"][0]
        token = await fetch_token(em, app_reg["clientId"], app_reg["secrets"][0])
        user = fixture["users"][1234]["id"]
        headers = {"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=1000"}
        async with httpx.AsyncClient(base_url=em.graph_url, headers=headers) as client:
            url = f"/users/{user}/mailFolders/inbox/messages/delta()"
            page = (await client.get(url, params={"$select": SELECT})).json()
            assert len(page["value"]) == 1000 and "@odata.nextLink" in page
            assert len(page["@odata.nextLink"]) < 300  # compact tokens
            assert_valid(
                page,
                "Users.Functions.yml",
                "/users/{user-id}/mailFolders/{mailFolder-id}/messages/microsoft.graph.delta()",
            )
            events = (
                await client.get(
                    f"/users/{user}/calendarView/delta",
                    params={
                        "startDateTime": "2024-01-01T00:00:00Z",
                        "endDateTime": "2025-03-01T00:00:00Z",
                    },
                )
            ).json()
            assert events["value"] and any(
                "fabrikam" not in str(e["attendees"]) for e in events["value"]
            )
            assert_valid(
                events,
                "Users.Functions.yml",
                "/users/{user-id}/calendarView/microsoft.graph.delta()",
            )


async def test_fast_path_matches_dict_path_and_sees_changes(tmp_path: Path) -> None:
    fixture, _ = generate_tenant(users=3, messages_per_user=1500, seed=4, events_per_user=0)
    async with running_emulator(fixture, workdir=tmp_path) as em:
        user = fixture["users"][0]["id"]
        app_reg = fixture["apps"][0]
        token = await fetch_token(em, app_reg["clientId"], app_reg["secrets"][0])
        folder = em.state.mailbox(user).folder("inbox").collection
        expected = [
            {"id": m["id"], **{f: m[f] for f in SELECT.split(",")}}
            for m in folder.baseline.items(0, 825)
        ]
        em.update_message(user, expected[10]["id"], {"isDraft": True})
        em.delete_message(user, expected[11]["id"])
        headers = {"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=1000"}
        async with httpx.AsyncClient(base_url=em.graph_url, headers=headers) as client:
            url = f"/users/{user}/mailFolders/inbox/messages/delta"
            body = (await client.get(url, params={"$select": SELECT})).json()
    served = body["value"]
    assert len(served) == 824 and "@odata.deltaLink" in body
    assert served[:10] == expected[:10] and served[11:] == expected[12:]
    assert served[10]["id"] == expected[10]["id"] and "isDraft" not in served[10]  # $select applies
    raw = msgspec.json.encode(served)
    assert b"RAPPORT-CANARY" not in raw  # subject/body were not selected


def test_serve_cli_prints_addresses(tmp_path: Path) -> None:
    import subprocess
    import sys

    fixture, _ = generate_tenant(users=2, messages_per_user=10, seed=1)
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(fixture))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator.cli",
            "serve",
            "--fixture",
            str(path),
            "--workdir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        addresses = json.loads(server.stdout.readline())
        assert addresses["authority"].startswith("https://127.0.0.1:")
        stats = httpx.get(addresses["adminUrl"] + "/stats").json()
        assert stats["requests"] == 0
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
