"""Signing in to the web app through the emulator's Entra ID, over real HTTPS, for tests.

`signed_in_site(engine, tmp_path, monkeypatch)` starts the Graph + Entra ID emulator (in
a thread of its own) with a web app registration whose redirect URI is the app's, and
the production app (`web.app.signed_in_app`, MSAL and all) on HTTPS with a throw-away
CA; MSAL trusts the emulator through REQUESTS_CA_BUNDLE. `site.browser()` is an httpx
client trusting both, and `sign_in(client, LOGIN)` signs in the way a person does: the
app sends the browser to the emulator's sign-in page, the account is picked from its
form, the emulator's answer page is posted to the app's /auth/callback (form_post, as a
browser without script does by its Continue button) and the redirects lead back.

People (tests/web/book.py's store plus an admin): seller A ana@ours.example (u1, team
east), seller B cleo@ours.example (u3, team west), the manager max@ours.example (u9, in
the managers group), the admin ada@ours.example (u10, in the admins group only), and
stranger@ours.example (in the tenant, not a Rapport system user).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from emulator.app import Emulator
from emulator.fixture import load_fixture_dict
from emulator.testing import CLIENT_ID, CLIENT_SECRET, TENANT_ID, FixtureBuilder
from tests import factories as f
from tests.insights.seeded import NOW
from tests.web.book import seed
from tests.web.server import free_port, serving
from web.app import signed_in_app
from web.settings import WebSettings

MANAGERS_GROUP = "7d3c5a10-0000-4000-8000-00000000aa01"
ADMINS_GROUP = "7d3c5a10-0000-4000-8000-00000000aa02"
SESSION_SECRET = "test-session-secret-" + "x" * 32
LOGINS = {
    "seller_a": "ana@ours.example",
    "seller_b": "cleo@ours.example",
    "manager": "max@ours.example",
    "admin": "ada@ours.example",
}
STRANGER = "stranger@ours.example"
HIDDEN = re.compile(r'type="hidden" name="([^"]*)" value="([^"]*)"')


class MovableClock:
    """The session clock (seconds): tests move it past a session's end."""

    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class SignedInSite:
    base_url: str
    emulator: Emulator
    settings: WebSettings
    clock: MovableClock
    trust: ssl.SSLContext
    app: FastAPI

    def browser(self) -> httpx.Client:
        """A fresh browser (no cookies) trusting the app's and the emulator's CAs."""
        return httpx.Client(base_url=self.base_url, verify=self.trust, timeout=30)


def seed_people(engine: Engine) -> None:
    """The book (tests/web/book.py) and the admin, a system user of a team of their own."""
    seed(engine)
    f.user(engine, "u10", LOGINS["admin"], "Ada Admin", team="ops")


def tenant(redirect_uri: str) -> dict[str, Any]:
    """The emulator's tenant: the people above, the web app's registration and groups."""
    builder = FixtureBuilder(tenant_id=TENANT_ID, domains=("ours.example",))
    builder.app(redirect_uris=(redirect_uri,), group_claims="SecurityGroup")
    for login in (*LOGINS.values(), STRANGER):
        builder.user(login)
    builder.group(MANAGERS_GROUP, (LOGINS["manager"],), "Rapport managers")
    builder.group(ADMINS_GROUP, (LOGINS["admin"],), "Rapport admins")
    return builder.build()


@contextmanager
def emulator_thread(fixture: dict[str, Any], workdir: Path) -> Iterator[Emulator]:
    """The emulator on its own event loop in a thread (the tests and the app are sync)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    emulator = Emulator(load_fixture_dict(fixture), workdir=workdir)
    try:
        asyncio.run_coroutine_threadsafe(emulator.start(), loop).result(30)
        yield emulator
    finally:
        asyncio.run_coroutine_threadsafe(emulator.stop(), loop).result(30)
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result(30)  # closes land
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def web_settings(emulator: Emulator, redirect_uri: str) -> WebSettings:
    return WebSettings(
        tenant_id=emulator.tenant_id,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        authority_host=emulator.authority,
        redirect_uri=redirect_uri,
        session_secret=SESSION_SECRET,
        managers_group=MANAGERS_GROUP,
        admins_group=ADMINS_GROUP,
    )


@contextmanager
def signed_in_site(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SignedInSite]:
    """The emulator and the production app over `engine` (seeded by the caller), on HTTPS."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key, ca_pem = tmp_path / "web.pem", tmp_path / "web-key.pem", tmp_path / "web-ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_pem))
    port = free_port()
    redirect_uri = f"https://127.0.0.1:{port}/auth/callback"
    with emulator_thread(tenant(redirect_uri), tmp_path / "emulator") as emulator:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_pem_path))  # MSAL's requests
        trust = ssl.create_default_context(cafile=str(ca_pem))
        trust.load_verify_locations(cafile=str(emulator.ca_pem_path))
        clock = MovableClock()
        settings = web_settings(emulator, redirect_uri)
        app = signed_in_app(engine, settings, clock=lambda: NOW, session_clock=clock)
        try:
            with serving(app, port=port, tls=(cert, key), verify=trust) as web:
                base_url = str(web.base_url).rstrip("/")
                yield SignedInSite(base_url, emulator, settings, clock, trust, app)
        finally:
            app.state.sign_in.close()


def hidden_fields(html: str) -> dict[str, str]:
    return {unescape(name): unescape(value) for name, value in HIDDEN.findall(html)}


def is_sign_in_page(answer: httpx.Response) -> bool:
    return 'id="sign-in-form"' in answer.text


def sign_in(client: httpx.Client, login: str, start: str = "/portfolio") -> httpx.Response:
    """Open `start`, land on the emulator's sign-in page, pick `login`, follow back."""
    page = client.get(start, follow_redirects=True)
    assert is_sign_in_page(page), (page.status_code, page.url, page.text[:300])
    authorize = str(page.url.copy_with(query=None))
    answer = client.post(authorize, data={**hidden_fields(page.text), "login": login})
    assert answer.status_code == 200 and 'id="form-post"' in answer.text, answer.text[:300]
    callback = re.search(r'id="form-post" method="post" action="([^"]+)"', answer.text)
    assert callback is not None
    return client.post(
        unescape(callback.group(1)), data=hidden_fields(answer.text), follow_redirects=True
    )


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf_token on the page"
    return unescape(found.group(1))


API_SCOPE = f"api://{CLIENT_ID}/access_as_user"


def access_token(site: SignedInSite, login: str, scopes: tuple[str, ...] = (API_SCOPE,)) -> str:
    """An access token the emulator's Entra ID issues to `login` through MSAL's
    authorization-code flow, as a CRM or BI tool signed in as them gets one: for
    Rapport's API with its scope (the default), or for Graph with `scopes=()`."""
    import msal  # type: ignore[import-untyped]

    client = msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=CLIENT_SECRET,
        authority=site.settings.authority,
        instance_discovery=False,
        token_cache=msal.TokenCache(),
    )
    try:
        flow = client.initiate_auth_code_flow(
            scopes=list(scopes), redirect_uri=site.settings.redirect_uri, response_mode="form_post"
        )
        with httpx.Client(verify=site.trust, timeout=30) as browser:
            page = browser.get(flow["auth_uri"])
            assert is_sign_in_page(page), page.text[:300]
            authorize = str(page.url.copy_with(query=None))
            answer = browser.post(authorize, data={**hidden_fields(page.text), "login": login})
        result = client.acquire_token_by_auth_code_flow(flow, hidden_fields(answer.text))
    finally:
        client.http_client.close()
    assert "access_token" in result, result
    return str(result["access_token"])
