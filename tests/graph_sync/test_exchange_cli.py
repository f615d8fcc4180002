"""`rapport consent url|check` and `rapport mailboxes list` as an IT admin meets them.

The emulator serves from the test's event loop, so each command runs in a
worker thread (with its own loop, as from a shell).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from emulator.testing import CLIENT_ID, CLIENT_SECRET
from tests.graph_sync.conftest import ADELE, BEN, Exchange
from tests.worker.cli_runner import Outcome, run_cli
from worker.cli.exchange import register
from worker.cli.rapport import app


@pytest.fixture(autouse=True)
def mounted() -> None:
    # Until worker/cli/rapport.py mounts the commands itself; register() ignores a second call.
    register(app)


async def rapport(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    return await asyncio.to_thread(run_cli, capsys, *args)


def loaded(outcome: Outcome) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(outcome.out)
    return payload


def test_consent_url_names_the_app_scope_redirect_and_a_state(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAPPORT_TENANT_ID", "contoso.onmicrosoft.com")
    monkeypatch.setenv("RAPPORT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("RAPPORT_CONSENT_REDIRECT_URI", "https://rapport.contoso.com/consent")

    first, second = run_cli(capsys, "consent", "url", "--json"), run_cli(capsys, "consent", "url")

    assert (first.code, second.code) == (0, 0)
    payload = loaded(first)
    url = urlsplit(payload["url"])
    assert url.netloc == "login.microsoftonline.com"
    assert url.path == "/contoso.onmicrosoft.com/v2.0/adminconsent"
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert query == {
        "client_id": CLIENT_ID,
        "scope": "https://graph.microsoft.com/.default",
        "redirect_uri": "https://rapport.contoso.com/consent",
        "state": payload["state"],
    }
    assert len(payload["state"]) >= 16 and payload["state"] not in second.out
    assert "Calendars.ReadBasic.All" in second.out and "adminconsent" in second.out


def test_consent_url_without_an_app_registration_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAPPORT_TENANT_ID", raising=False)

    ran = run_cli(capsys, "consent", "url")

    assert ran.code == 2 and ran.out == ""
    assert ran.err.count("\n") == 1 and "RAPPORT_TENANT_ID" in ran.err


async def test_consent_check_granted(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    as_json, as_text = (
        await rapport(capsys, "consent", "check", "--json"),
        await rapport(capsys, "consent", "check"),
    )

    assert (as_json.code, as_text.code) == (0, 0), as_json.err
    payload = loaded(as_json)
    assert (payload["state"], payload["probe"], payload["missing"]) == ("granted", "ok", [])
    assert payload["consent_url"] is None
    assert "granted" in as_text.out and "User.Read.All" in as_text.out
    assert exchange.tenant()["consent_state"] == "granted"


async def test_consent_check_names_what_is_missing_and_exits_3(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange.emulator.set_roles(CLIENT_ID, ["Mail.Read", "User.Read.All"])

    as_json, as_text = (
        await rapport(capsys, "consent", "check", "--json"),
        await rapport(capsys, "consent", "check"),
    )

    assert (as_json.code, as_text.code) == (3, 3)
    payload = loaded(as_json)
    assert payload["state"] == "missing"
    [missing] = payload["missing"]
    assert missing["permission"] == "Calendars.ReadBasic.All" and "meeting" in missing["needed_for"]
    assert payload["broader_than_needed"] == ["Mail.Read"]
    assert "adminconsent" in payload["consent_url"]
    assert "missing Calendars.ReadBasic.All" in as_text.out
    assert "broader than needed: Mail.Read" in as_text.out and "adminconsent" in as_text.out


async def test_consent_check_exit_codes_for_configuration_and_token_failures(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange.settings(client_secret="wrong-secret-0b7e")
    refused = await rapport(capsys, "consent", "check", "--json")
    exchange.unset("client_secret")
    unconfigured = await rapport(capsys, "consent", "check", "--json")

    assert refused.code == 3
    assert loaded(refused)["state"] == "token_failed"
    assert "AADSTS7000215" in loaded(refused)["reason"]
    assert "wrong-secret-0b7e" not in refused.out + refused.err
    assert unconfigured.code == 2
    assert loaded(unconfigured)["state"] == "not_configured"
    assert "RAPPORT_CLIENT_SECRET" in loaded(unconfigured)["reason"]
    assert CLIENT_SECRET not in unconfigured.out


async def test_mailboxes_list_shows_status_reason_and_progress(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    await exchange.tick()

    as_json, as_text = (
        await rapport(capsys, "mailboxes", "list", "--json"),
        await rapport(capsys, "mailboxes", "list"),
    )

    assert (as_json.code, as_text.code) == (0, 0), as_json.err
    payload = loaded(as_json)
    [tenant] = payload["tenants"]
    assert tenant["consent_state"] == "granted"
    mailboxes = {m["system_user"]: m for m in payload["mailboxes"]}
    adele, ben = mailboxes[ADELE], mailboxes[BEN]
    assert (adele["status"], adele["items_ingested"], adele["data_location"]) == ("ok", 27, "EUR")
    assert adele["last_success_at"] and adele["cursor_age_seconds"] > 0
    assert ben["status"] == "location_excluded" and ben["location_allowed"] is False
    assert "DEU" in ben["reason"] and ben["cursor_age_seconds"] is None
    for text in (ADELE, "ok", "location_excluded", "DEU (preferredDataLocation)", "27"):
        assert text in as_text.out


async def test_mailboxes_list_on_a_fresh_store(
    exchange: Exchange, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = await rapport(capsys, "mailboxes", "list")

    assert ran.code == 0 and "no mailboxes yet" in ran.out
