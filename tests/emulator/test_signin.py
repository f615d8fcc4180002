"""The emulator's sign-in over HTTPS: the authorize endpoint's checks and pages, the
authorization_code grant with PKCE, and an ID token a client verifies with the keys the
emulator publishes (issuer, audience, nonce, groups)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import ssl
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from emulator.app import Emulator
from emulator.testing import CLIENT_ID, CLIENT_SECRET, FixtureBuilder

REDIRECT = "https://rapport.contoso.com/auth/callback"
MANAGERS, SALES = "11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002"


@pytest.fixture
def fixture_dict() -> dict[str, Any]:
    builder = FixtureBuilder(domains=("contoso.com",))
    builder.app(redirect_uris=(REDIRECT,), group_claims="SecurityGroup")
    builder.user("adele@contoso.com", display_name="Adele Vance").user("ben@contoso.com")
    builder.group(SALES, ("adele@contoso.com",)).group(MANAGERS, (SALES,))  # nested
    return builder.build()


@pytest.fixture
async def browser(emulator: Emulator) -> Any:
    context = ssl.create_default_context(cafile=str(emulator.ca_pem_path))
    async with httpx.AsyncClient(verify=context, base_url=emulator.authority) as client:
        yield client


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _authorize(emulator: Emulator, **extra: str) -> tuple[str, dict[str, str]]:
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid profile offline_access",
        "state": "st-1",
        "nonce": "n-1",
        **extra,
    }
    return f"/{emulator.tenant_id}/oauth2/v2.0/authorize", params


def _form_fields(html: str) -> dict[str, str]:
    return {
        unescape(name): unescape(value)
        for name, value in re.findall(r'type="hidden" name="([^"]*)" value="([^"]*)"', html)
    }


async def _sign_in(browser: httpx.AsyncClient, emulator: Emulator, login: str, **extra: str) -> str:
    path, params = _authorize(emulator, **extra)
    page = await browser.get(path, params=params)
    assert page.status_code == 200 and 'id="sign-in-form"' in page.text
    answer = await browser.post(path, data={**_form_fields(page.text), "login": login})
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert query["state"] == "st-1"
    return query["code"]


async def _redeem(browser: httpx.AsyncClient, emulator: Emulator, code: str, **extra: str) -> Any:
    return await browser.post(
        f"/{emulator.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code": code,
            "redirect_uri": REDIRECT,
            "scope": "openid profile offline_access",
            **extra,
        },
    )


async def test_a_signed_in_user_gets_an_id_token_verified_by_the_published_keys(
    emulator: Emulator, browser: httpx.AsyncClient
) -> None:
    verifier, challenge = _pkce()
    code = await _sign_in(
        browser,
        emulator,
        "adele@contoso.com",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    reply = await _redeem(browser, emulator, code, code_verifier=verifier)
    assert reply.status_code == 200, reply.text

    config = (
        await browser.get(f"/{emulator.tenant_id}/v2.0/.well-known/openid-configuration")
    ).json()
    keys = jwt.PyJWKSet.from_dict((await browser.get(config["jwks_uri"])).json())
    token = reply.json()["id_token"]
    key = next(k for k in keys.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=CLIENT_ID, issuer=config["issuer"]
    )
    assert claims["nonce"] == "n-1" and claims["tid"] == emulator.tenant_id
    assert (claims["preferred_username"], claims["name"]) == ("adele@contoso.com", "Adele Vance")
    assert sorted(claims["groups"]) == sorted([SALES, MANAGERS])  # nested membership too
    assert config["authorization_endpoint"].endswith("/oauth2/v2.0/authorize")
    # The code is single use.
    again = await _redeem(browser, emulator, code, code_verifier=verifier)
    assert again.status_code == 400 and "AADSTS54005" in again.json()["error_description"]


async def test_a_wrong_pkce_verifier_is_refused(
    emulator: Emulator, browser: httpx.AsyncClient
) -> None:
    _, challenge = _pkce()
    code = await _sign_in(
        browser, emulator, "ben@contoso.com", code_challenge=challenge, code_challenge_method="S256"
    )

    reply = await _redeem(browser, emulator, code, code_verifier=secrets.token_urlsafe(48))

    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_grant"
    assert "AADSTS501481" in reply.json()["error_description"]


async def test_an_unregistered_redirect_uri_stays_on_the_service_page(
    emulator: Emulator, browser: httpx.AsyncClient
) -> None:
    path, params = _authorize(emulator, redirect_uri="https://evil.example/cb")

    page = await browser.get(path, params=params)

    assert page.status_code == 400 and "AADSTS50011" in page.text
    assert "location" not in page.headers


async def test_other_faults_go_back_to_the_redirect_uri_with_the_state(
    emulator: Emulator, browser: httpx.AsyncClient
) -> None:
    path, params = _authorize(emulator, response_type="token")

    answer = await browser.get(path, params=params)

    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["unsupported_response_type"] and query["state"] == ["st-1"]


async def test_form_post_answers_with_a_form_to_the_redirect_uri(
    emulator: Emulator, browser: httpx.AsyncClient
) -> None:
    path, params = _authorize(emulator, response_mode="form_post")
    page = await browser.get(path, params=params)

    answer = await browser.post(
        path, data={**_form_fields(page.text), "login": "adele@contoso.com"}
    )

    assert answer.status_code == 200
    assert f'action="{REDIRECT}"' in answer.text
    assert _form_fields(answer.text)["state"] == "st-1"
