"""`rapport emulator generate --dataverse` and `serve --dataverse`: the same people and
companies as the Graph tenant, deterministic, served beside Graph with one token service."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
from typer.testing import CliRunner

from emulator.cli import app
from emulator.dataverse.generator import dataverse_environment, dataverse_path_for
from emulator.dataverse.testing import api_client, fetch_dataverse_token, running_dataverse
from emulator.generator import crm_path_for, generate_tenant


def _generate(out: Path, seed: int = 4) -> dict[str, str]:
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--users",
            "6",
            "--messages-per-user",
            "0",
            "--seed",
            str(seed),
            "--out",
            str(out),
            "--dataverse",
        ],
    )
    assert result.exit_code == 0, result.output
    written: dict[str, str] = json.loads(result.output)
    return written


async def test_generated_dataverse_holds_the_tenants_people_and_companies(
    tmp_path: Path,
) -> None:
    out = tmp_path / "tenant.json"
    written = _generate(out)
    assert written["dataverse"] == str(dataverse_path_for(out))
    fixture = json.loads(out.read_text())
    crm = json.loads(crm_path_for(out).read_text())
    environment = json.loads(dataverse_path_for(out).read_text())
    async with running_dataverse(environment, tenant=fixture, workdir=tmp_path) as dv:
        token = await fetch_dataverse_token(
            dv, client_id=fixture["apps"][0]["clientId"], secret=fixture["apps"][0]["secrets"][0]
        )
        async with api_client(dv, token) as client:
            users = await client.get("systemusers", params={"$select": "internalemailaddress"})
            contacts = await client.get("contacts", params={"$select": "emailaddress1"})
            accounts = await client.get("accounts", params={"$select": "name"})
            deals = (await client.get("opportunities", params={"$select": "statecode"})).json()
            stakeholders = (await client.get("connections")).json()["value"]
            parties = (await client.get("activityparties")).json()["value"]
            emails = (await client.get("emails", params={"$select": "directioncode"})).json()
    mails = {u.get("internalemailaddress") for u in users.json()["value"]} - {None}
    assert mails == {u["mail"] for u in fixture["users"]}
    assert {c["contactid"] for c in contacts.json()["value"]} == {c["id"] for c in crm["contacts"]}
    assert {a["name"] for a in accounts.json()["value"]} == {a["name"] for a in crm["accounts"]}
    assert {d["statecode"] for d in deals["value"]} <= {0, 1, 2} and deals["value"]
    assert stakeholders and emails["value"]
    masks = Counter(p["participationtypemask"] for p in parties)
    assert masks[1] and masks[2]


def test_generation_is_deterministic(tmp_path: Path) -> None:
    fixture, crm = generate_tenant(users=4, messages_per_user=0, seed=8)
    assert dataverse_environment(fixture, crm, 8) == dataverse_environment(fixture, crm, 8)
    other_fixture, other_crm = generate_tenant(users=4, messages_per_user=0, seed=9)
    assert dataverse_environment(fixture, crm, 8) != dataverse_environment(
        other_fixture, other_crm, 9
    )


def test_serve_with_dataverse_prints_its_url_and_serves_whoami(tmp_path: Path) -> None:
    out = tmp_path / "tenant.json"
    written = _generate(out, seed=2)
    fixture = json.loads(out.read_text())
    app_entry = fixture["apps"][0]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator.cli",
            "serve",
            "--fixture",
            str(out),
            "--dataverse",
            written["dataverse"],
            "--workdir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        addresses = json.loads(server.stdout.readline())
        assert addresses["dataverseUrl"].startswith("https://127.0.0.1:")
        assert addresses["dataverseScope"] == addresses["dataverseUrl"] + "/.default"
        trust = ssl.create_default_context(cafile=addresses["caPem"])
        with httpx.Client(verify=trust) as http:
            token = http.post(
                f"{addresses['authority']}/{addresses['tenantId']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": app_entry["clientId"],
                    "client_secret": app_entry["secrets"][0],
                    "scope": addresses["dataverseScope"],
                },
            ).json()["access_token"]
            whoami = http.get(
                f"{addresses['dataverseUrl']}/api/data/v9.2/WhoAmI",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert whoami.status_code == 200 and whoami.json()["UserId"]
            stats = http.get(addresses["dataverseAdminUrl"] + "/stats").json()
            assert stats["requests"] == 1
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()


def test_serve_names_a_bad_dataverse_fixture(tmp_path: Path) -> None:
    fixture, _ = generate_tenant(users=1, messages_per_user=0, seed=1)
    tenant = tmp_path / "tenant.json"
    tenant.write_text(json.dumps(fixture))
    broken = tmp_path / "broken.dataverse.json"
    broken.write_text(json.dumps({"tables": {"contacts": [{"contactid": "x", "shoe": 1}]}}))
    result = CliRunner().invoke(
        app, ["serve", "--fixture", str(tenant), "--dataverse", str(broken)]
    )
    assert result.exit_code == 2
    assert "tables.contacts[0]" in result.output
