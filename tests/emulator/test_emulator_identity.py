"""azure-identity credentials, unmodified, against the emulator's token service."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential
from azure.identity.aio import CertificateCredential as AioCertificateCredential
from azure.identity.aio import ClientSecretCredential as AioClientSecretCredential
from cryptography.hazmat.primitives import hashes

from emulator.app import Emulator
from emulator.certs import AppCertificate, create_app_certificate
from emulator.testing import (
    CLIENT_ID,
    CLIENT_SECRET,
    GRAPH_SCOPE,
    METADATA_ROLES,
    FixtureBuilder,
    fetch_token,
    running_emulator,
    trust_emulator_ca,
)
from emulator.tokens import GRAPH_AUDIENCE

CERT_CLIENT_ID = "11111111-2222-4333-8444-555555555555"


@pytest.fixture(scope="module")
def app_certificate() -> AppCertificate:
    return create_app_certificate()


@pytest.fixture
async def trusted(
    app_certificate: AppCertificate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Emulator]:
    builder = FixtureBuilder.standard()
    builder.app(
        CERT_CLIENT_ID, secret=None, certificate=app_certificate, roles=("Mail.ReadBasic.All",)
    )
    builder.app("22222222-2222-4333-8444-555555555555", roles=())
    async with running_emulator(builder.build(), workdir=tmp_path) as em:
        trust_emulator_ca(monkeypatch, em)
        yield em


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _options(em: Emulator) -> dict[str, Any]:
    return {"authority": em.authority, "disable_instance_discovery": True}


async def test_sync_secret_credential(trusted: Emulator) -> None:
    with ClientSecretCredential(
        trusted.tenant_id, CLIENT_ID, CLIENT_SECRET, **_options(trusted)
    ) as cred:
        token = await asyncio.to_thread(cred.get_token, GRAPH_SCOPE)
    claims = _claims(token.token)
    assert claims["tid"] == trusted.tenant_id and claims["appid"] == CLIENT_ID
    assert claims["aud"] == "https://graph.microsoft.com"
    assert sorted(claims["roles"]) == sorted(METADATA_ROLES)
    assert token.expires_on > claims["iat"]


async def test_aio_secret_credential(trusted: Emulator) -> None:
    async with AioClientSecretCredential(
        trusted.tenant_id, CLIENT_ID, CLIENT_SECRET, **_options(trusted)
    ) as cred:
        token = await cred.get_token(GRAPH_SCOPE)
    assert _claims(token.token)["appid"] == CLIENT_ID


async def test_sync_certificate_credential(
    trusted: Emulator, app_certificate: AppCertificate
) -> None:
    with CertificateCredential(
        trusted.tenant_id,
        CERT_CLIENT_ID,
        certificate_data=app_certificate.combined_pem,
        **_options(trusted),
    ) as cred:
        token = await asyncio.to_thread(cred.get_token, GRAPH_SCOPE)
    claims = _claims(token.token)
    assert claims["appid"] == CERT_CLIENT_ID and claims["appidacr"] == "2"
    assert claims["roles"] == ["Mail.ReadBasic.All"]


async def test_aio_certificate_credential(
    trusted: Emulator, app_certificate: AppCertificate
) -> None:
    async with AioCertificateCredential(
        trusted.tenant_id,
        CERT_CLIENT_ID,
        certificate_data=app_certificate.combined_pem,
        **_options(trusted),
    ) as cred:
        token = await cred.get_token(GRAPH_SCOPE)
    assert _claims(token.token)["appid"] == CERT_CLIENT_ID


async def test_unregistered_certificate_is_refused(trusted: Emulator) -> None:
    stranger = create_app_certificate("stranger")
    async with AioCertificateCredential(
        trusted.tenant_id,
        CERT_CLIENT_ID,
        certificate_data=stranger.combined_pem,
        **_options(trusted),
    ) as cred:
        with pytest.raises(ClientAuthenticationError, match="AADSTS700027"):
            await cred.get_token(GRAPH_SCOPE)


async def test_no_roles_claim_when_nothing_granted(trusted: Emulator) -> None:
    async with AioClientSecretCredential(
        trusted.tenant_id,
        "22222222-2222-4333-8444-555555555555",
        CLIENT_SECRET,
        **_options(trusted),
    ) as cred:
        token = await cred.get_token(GRAPH_SCOPE)
    assert "roles" not in _claims(token.token)


@pytest.mark.parametrize(
    ("tenant", "client_id", "secret", "status", "error", "code"),
    [
        ("nope.example", CLIENT_ID, CLIENT_SECRET, 400, "invalid_request", 90002),
        (
            None,
            "99999999-0000-4000-8000-000000000000",
            CLIENT_SECRET,
            400,
            "unauthorized_client",
            700016,
        ),
        (None, CLIENT_ID, "wrong", 401, "invalid_client", 7000215),
    ],
)
async def test_token_errors_match_entra(
    trusted: Emulator,
    tenant: str | None,
    client_id: str,
    secret: str,
    status: int,
    error: str,
    code: int,
) -> None:
    async with httpx.AsyncClient(verify=_ssl(trusted)) as client:
        reply = await client.post(
            f"{trusted.authority}/{tenant or trusted.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": GRAPH_SCOPE,
            },
        )
    assert reply.status_code == status
    body = reply.json()
    assert body["error"] == error and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}:")


async def test_openid_configuration_and_tenant_by_domain(trusted: Emulator) -> None:
    async with httpx.AsyncClient(verify=_ssl(trusted)) as client:
        reply = await client.get(
            f"{trusted.authority}/contoso.com/v2.0/.well-known/openid-configuration"
        )
    config = reply.json()
    assert config["token_endpoint"].endswith(f"/{trusted.tenant_id}/oauth2/v2.0/token")
    assert {"authorization_endpoint", "issuer"} <= set(config)


async def test_sync_secret_credential_wrong_secret(trusted: Emulator) -> None:
    with ClientSecretCredential(trusted.tenant_id, CLIENT_ID, "wrong", **_options(trusted)) as cred:
        with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
            await asyncio.to_thread(cred.get_token, GRAPH_SCOPE)


def _ssl(em: Emulator) -> Any:
    import ssl

    return ssl.create_default_context(cafile=str(em.ca_pem_path))


async def test_access_tokens_verify_against_the_published_keys(trusted: Emulator) -> None:
    async with httpx.AsyncClient(verify=_ssl(trusted)) as client:
        keys = await client.get(f"{trusted.authority}/{trusted.tenant_id}/discovery/v2.0/keys")
    token = await fetch_token(trusted)
    published = jwt.PyJWK(keys.json()["keys"][0], algorithm="RS256")
    assert jwt.get_unverified_header(token)["kid"] == published.key_id
    claims = jwt.decode(token, published, algorithms=["RS256"], audience=GRAPH_AUDIENCE)
    assert claims["appid"] == CLIENT_ID


@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
async def test_an_assertion_not_signed_by_the_registered_key_is_refused(
    trusted: Emulator, app_certificate: AppCertificate, algorithm: str
) -> None:
    """The header names the registered certificate, but another key signed the assertion."""
    token_url = f"{trusted.authority}/{trusted.tenant_id}/oauth2/v2.0/token"
    thumbprint = app_certificate.certificate.fingerprint(hashes.SHA256())
    now = int(time.time())
    forged = jwt.encode(
        {
            "aud": token_url,
            "iss": CERT_CLIENT_ID,
            "sub": CERT_CLIENT_ID,
            "nbf": now,
            "exp": now + 600,
            "jti": "forged",
        },
        create_app_certificate().private_key_pem,
        algorithm=algorithm,
        headers={"x5t#S256": base64.urlsafe_b64encode(thumbprint).decode()},
    )
    async with httpx.AsyncClient(verify=_ssl(trusted)) as client:
        reply = await client.post(
            token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": CERT_CLIENT_ID,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": forged,
                "scope": GRAPH_SCOPE,
            },
        )
    assert reply.status_code == 401
    body = reply.json()
    assert body["error_codes"] == [700027]
    assert "invalid signature" in body["error_description"]
