"""What sign-in refuses, against the emulator's real keys and token endpoint: an ID token
signed by a key the tenant does not publish, or for another app, or expired; Entra's
refusal posted back (the user cancelled); an answer whose state is not this browser's."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.engine import Engine

from emulator.testing import CLIENT_ID
from tests.web.entra import LOGINS, SignedInSite, seed_people, sign_in, signed_in_site
from tests.web.server import serving
from web.app import signed_in_app
from web.settings import WebSettings
from web.signin import EntraSignIn, SignInFailed


@pytest.fixture
def site(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SignedInSite]:
    seed_people(engine)
    with signed_in_site(engine, tmp_path, monkeypatch) as running:
        yield running


def _claims(site: SignedInSite, **changed: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": f"{site.emulator.authority}/{site.emulator.tenant_id}/v2.0",
        "aud": CLIENT_ID,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "preferred_username": LOGINS["manager"],
        "tid": site.emulator.tenant_id,
        **changed,
    }


def test_id_tokens_not_from_the_tenant_for_this_app_are_refused(site: SignedInSite) -> None:
    sign_in_service = EntraSignIn(site.settings)
    tokens = site.emulator.tokens
    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = jwt.get_unverified_header(tokens.sign(_claims(site)))["kid"]
    try:
        assert sign_in_service.verified_claims(tokens.sign(_claims(site)))["tid"]  # the good one
        forged = jwt.encode(_claims(site), stranger_key, algorithm="RS256", headers={"kid": kid})
        refused = {
            "another key": forged,
            "another app": tokens.sign(_claims(site, aud="11111111-2222-3333-4444-555555555555")),
            "another issuer": tokens.sign(_claims(site, iss="https://evil.example/v2.0")),
            "expired": tokens.sign(_claims(site, exp=int(time.time()) - 3600)),
        }
        for why, token in refused.items():
            with pytest.raises(SignInFailed):
                sign_in_service.verified_claims(token)
                pytest.fail(why)
    finally:
        sign_in_service.close()


def test_a_refusal_posted_back_by_entra_is_shown_and_nobody_is_signed_in(
    site: SignedInSite,
) -> None:
    with site.browser() as browser:
        browser.get("/signin")  # the flow cookie for this browser
        refused = browser.post(
            "/auth/callback",
            data={
                "error": "access_denied",
                "error_description": "AADSTS65004: User declined to consent.\r\nTrace ID: x",
            },
        )
        after = browser.get("/api/me")

    assert refused.status_code == 401
    assert "Sign-in failed: Entra ID refused the sign-in: AADSTS65004" in unescape(refused.text)
    assert after.status_code == 401


def test_an_answer_for_another_browser_is_refused(site: SignedInSite) -> None:
    with site.browser() as victim, site.browser() as attacker:
        attacker.get("/signin")
        victim.get("/signin")
        # The attacker's own code and state, posted from the victim's browser (login CSRF).
        forged = victim.post("/auth/callback", data={"code": "1.Aanything", "state": "theirs"})
        after = victim.get("/api/me")
        signed = sign_in(victim, LOGINS["seller_a"])

    assert forged.status_code == 400 and "refused" in forged.text
    assert after.status_code == 401
    assert signed.status_code == 200


def test_an_unreachable_identity_platform_is_one_line_not_a_traceback(engine: Engine) -> None:
    seed_people(engine)
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = WebSettings(
        tenant_id="contoso.onmicrosoft.com",
        client_id=CLIENT_ID,
        client_secret="web-app-secret-value",
        authority_host=f"https://127.0.0.1:{port}",
        redirect_uri="https://rapport.contoso.com/auth/callback",
        session_secret="a-session-secret-of-more-than-32-characters",
    )
    app = signed_in_app(engine, settings)
    with serving(app) as web:
        answer = web.get("/signin")

    assert answer.status_code == 502
    assert f"Entra ID could not be reached at https://127.0.0.1:{port}/contoso" in answer.text
    assert "Traceback" not in answer.text and "web-app-secret-value" not in answer.text
