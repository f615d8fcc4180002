"""Every route of the production app, as each role, signed in through the emulator's Entra
ID over real HTTPS (tests/web/entra.py: MSAL, the authorize endpoint, the sign-in page,
form_post back, the ID token's groups): seller A (u1, team east), seller B (u3, team
west), a manager (managers group) and an admin (admins group only, owning nothing).

A record route answers 200 for a record the role may see and 404 for one it may not,
without its name; a listing shows exactly the visible deals; the admin page and its
form answer admins only. Every POST route refuses a form without the session's CSRF
token. Signed out, every page sends the browser to sign in and the API answers 401. A
new route this walk does not know fails it, so no route escapes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import jwt
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy.engine import Engine
from starlette.routing import Mount

from emulator.testing import CLIENT_ID
from storage.rapport_tables import AuditEvent, RiSetting
from storage.types import core_table
from tests.web.entra import (
    LOGINS,
    STRANGER,
    SignedInSite,
    access_token,
    csrf_token,
    is_sign_in_page,
    seed_people,
    sign_in,
    signed_in_site,
)

# The records the walk watches: seller A's deal (team east), seller B's (team west), and
# a contact of no account, so with no owner (managers only).
RECORDS = {
    ("opportunity", "o1"): "Deal o1",
    ("opportunity", "o8"): "Deal o8",
    ("contact", "c4"): "Gus Moor",
}
SEES = {
    "seller_a": {("opportunity", "o1")},
    "seller_b": {("opportunity", "o8")},
    "manager": set(RECORDS),
    "admin": set(),
}
ADMINS = {"admin"}
# Routes that list records: each must show every visible one (the pipeline: deals only).
LISTINGS = {"/portfolio", "/portfolio.csv", "/api/portfolio"}
PIPELINES = {"/pipeline", "/api/pipeline"}
MOUNT_PROBES = {"/static": "/static/rapport.css"}
PUBLIC = {"/static/rapport.css", "/api/openapi.json", "/favicon.ico"}  # no insight in them
ADMIN_PAGES = {"/admin"}
SIGN_IN = {"/signin"}
HOME = {"/"}  # a redirect to the portfolio
POSTS = {"/admin/settings", "/signout", "/auth/callback"}
# The "draft introduction" download: a contact of seller A's team, asking its introducer
# Ben (u2); seller A and the manager see the contact, seller B and the admin do not.
INTRODUCTION = "/records/contact/c1/introduction.eml?introducer=u2"
DRAFTERS = {"seller_a", "manager"}
# An open deal's similar won deals: seller A's won deal o3, a benchmark whoever looks.
SIMILAR_WON = "Deal o3"
PARAMETER = re.compile(r"{(\w+)}")

Record = tuple[str, str]


def walk(app: FastAPI) -> tuple[list[tuple[str, Record | None]], set[str]]:
    """(URL, the record it is about or None) for every GET route, and the POST routes."""
    urls: list[tuple[str, Record | None]] = []
    posts: set[str] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path
        assert path is not None, route
        if isinstance(route.original_route, Mount):
            urls.append((MOUNT_PROBES[path], None))
            continue
        assert route.methods is not None, path
        if route.methods == {"POST"}:
            assert path in POSTS, f"walk: teach it POST {path}"
            posts.add(path)
            continue
        assert route.methods <= {"GET", "HEAD"}, path
        names = PARAMETER.findall(path)
        if not names:
            urls.append((path, None))
            continue
        assert set(names) == {"record_type", "record_id"}, f"walk: teach it {path}"
        if path.endswith("/introduction.eml"):
            urls.append((INTRODUCTION, None))
            continue
        for record in RECORDS:
            url = path.replace("{record_type}", record[0]).replace("{record_id}", record[1])
            urls.append((url, record))
    return urls, posts


@pytest.fixture
def site(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SignedInSite]:
    seed_people(engine)
    with signed_in_site(engine, tmp_path, monkeypatch) as running:
        yield running


SETTINGS, AUDIT = core_table(RiSetting), core_table(AuditEvent)


def _setting(engine: Engine, key: str) -> object:
    with engine.connect() as connection:
        return connection.execute(sa.select(SETTINGS.c.value).where(SETTINGS.c.key == key)).scalar()


def _setting_actors(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        query = sa.select(AUDIT.c.actor).where(AUDIT.c.action == "setting_changed")
        return list(connection.execute(query).scalars())


@pytest.mark.parametrize("role", sorted(SEES))
def test_every_route_as_each_role_signed_in_through_entra(
    site: SignedInSite, engine: Engine, role: str
) -> None:
    urls, posts = walk(site.app)
    assert len(urls) >= 15 and posts == POSTS  # pages, API, CSV, admin, sign-in, static

    with site.browser() as browser:
        landed = sign_in(browser, LOGINS[role])
        assert landed.status_code == 200 and landed.url.path == "/portfolio"
        answers = {url: browser.get(url, follow_redirects=url in HOME) for url, _ in urls}
        token = csrf_token(landed.text)
        unguarded = {path: browser.post(path, data={"key": "influence.email"}) for path in posts}
        change = browser.post(
            "/admin/settings",
            data={"key": "influence.email", "value": "8", "csrf_token": token},
        )
        signed_out = browser.post("/signout", data={"csrf_token": token})
        after = browser.get("/portfolio", follow_redirects=True)

    for url, record in urls:
        answer, hidden = answers[url], set(RECORDS) - SEES[role]
        if url in SIGN_IN:
            assert (
                answer.status_code == 303 and "/oauth2/v2.0/authorize" in answer.headers["location"]
            ), (role, url)
            continue
        if record is not None:
            expected = 200 if record in SEES[role] else 404
        elif url == INTRODUCTION:
            expected = 200 if role in DRAFTERS else 404
        elif url in ADMIN_PAGES:
            expected = 200 if role in ADMINS else 403
        else:
            expected = 200
        assert answer.status_code == expected, (role, url, answer.status_code)
        for other in hidden:
            assert RECORDS[other] not in answer.text, (role, url, other)
        shown = SEES[role] if url in LISTINGS else set()
        if url in PIPELINES:
            shown = {seen for seen in SEES[role] if seen[0] == "opportunity"}
        for seen in shown:
            assert RECORDS[seen] in answer.text, (role, url, seen)
        if record is not None and record[0] == "opportunity" and expected == 200:
            assert SIMILAR_WON in answer.text, (role, url)

    # CSRF: no POST route takes a form without the session's token (the callback takes
    # none at all without the flow cookie of a sign-in this browser started).
    assert unguarded["/admin/settings"].status_code == 403
    assert unguarded["/signout"].status_code == 403
    assert unguarded["/auth/callback"].status_code == 400
    # The admin form: admins only; with the token, the change and its audit row.
    if role in ADMINS:
        assert change.status_code == 303 and _setting(engine, "influence.email") == 8
        assert _setting_actors(engine) == [LOGINS["admin"]]
    else:
        assert change.status_code == 403 and _setting(engine, "influence.email") is None
    # Signing out forgets the session: the next page asks to sign in again.
    assert signed_out.status_code == 200 and "Signed out" in signed_out.text
    assert is_sign_in_page(after)


@pytest.mark.parametrize("role", sorted(SEES))
def test_every_api_route_as_each_role_by_bearer_token(site: SignedInSite, role: str) -> None:
    """A CRM or BI tool calls the JSON API with an Entra access token for Rapport's API,
    issued to the person it signed in as: the same people, roles and visibility."""
    urls, _ = walk(site.app)
    token = access_token(site, LOGINS[role])
    claims = jwt.decode(token, options={"verify_signature": False})
    with site.browser() as tool:  # no cookie: the token alone
        tool.headers["authorization"] = f"Bearer {token}"
        answers = {url: tool.get(url) for url, _ in urls if url.startswith("/api/")}

    assert claims["aud"] == f"api://{CLIENT_ID}" and claims["scp"] == "access_as_user"
    assert len(answers) >= 5
    for url, record in urls:
        if url not in answers:
            continue
        answer, hidden = answers[url], set(RECORDS) - SEES[role]
        expected = 200 if record is None or record in SEES[role] else 404
        assert answer.status_code == expected, (role, url, answer.status_code)
        for other in hidden:
            assert RECORDS[other] not in answer.text, (role, url, other)
        if url in LISTINGS | PIPELINES:
            for seen in SEES[role]:
                if url in LISTINGS or seen[0] == "opportunity":
                    assert RECORDS[seen] in answer.text, (role, url, seen)
        if record is not None and record[0] == "opportunity" and expected == 200:
            assert answer.json()["similar_won_deals"]["deals"][0]["name"] == SIMILAR_WON, url
    me = answers["/api/me"].json()
    assert (me["is_manager"], me["is_admin"]) == (role == "manager", role in ADMINS), me


def _forged(site: SignedInSite, token: str, **changed: object) -> str:
    """`token` with some claims changed, signed by the tenant's own key (so only the
    changed claim can be why it is refused)."""
    claims = {**jwt.decode(token, options={"verify_signature": False}), **changed}
    return site.emulator.tokens.sign(claims)


def test_the_api_refuses_a_bearer_token_not_for_it_with_401_bearer(site: SignedInSite) -> None:
    good = access_token(site, LOGINS["seller_a"])
    refused = {
        "for Graph": access_token(site, LOGINS["seller_a"], scopes=()),
        "another app": _forged(site, good, aud="api://11111111-2222-3333-4444-555555555555"),
        "expired": _forged(site, good, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        "another tenant": _forged(
            site, good, iss="https://sts.windows.net/99999999-8888-7777-6666-555555555555/"
        ),
        "without the API's scope": _forged(site, good, scp="User.Read"),
        "not a token": "not-a-token",
    }
    with site.browser() as tool:
        answers = {
            why: tool.get("/api/portfolio", headers={"authorization": f"Bearer {token}"})
            for why, token in refused.items()
        }
        basic = tool.get("/api/portfolio", headers={"authorization": "Basic YTpi"})
        none = tool.get("/api/portfolio")
        accepted = tool.get("/api/portfolio", headers={"authorization": f"Bearer {good}"})
        page = tool.get("/portfolio", headers={"authorization": f"Bearer {good}"})

    for why, answer in answers.items():
        assert answer.status_code == 401, why
        assert answer.headers["www-authenticate"].startswith(
            'Bearer realm="rapport", error="invalid_token"'
        ), why
        assert "Deal o1" not in answer.text, why
    assert "audience" in answers["for Graph"].json()["detail"].lower()
    assert "expired" in answers["expired"].json()["detail"].lower()
    assert "issuer" in answers["another tenant"].json()["detail"].lower()
    assert basic.status_code == 401 and none.status_code == 401
    assert none.headers["www-authenticate"] == 'Bearer realm="rapport"'
    assert accepted.status_code == 200 and "Deal o1" in accepted.text
    # The pages are for browsers: a token does not sign a page in.
    assert page.status_code == 303 and page.headers["location"].startswith("/signin")


def test_signed_out_every_page_asks_to_sign_in_and_the_api_answers_401(
    site: SignedInSite,
) -> None:
    urls, _ = walk(site.app)
    with site.browser() as browser:
        answers = {url: browser.get(url) for url, _ in urls}

    for url, _ in urls:
        answer = answers[url]
        if url in PUBLIC:
            assert answer.status_code == 200, url
        elif url in SIGN_IN or url in HOME:
            assert answer.status_code == 303, url
        elif url.startswith("/api/"):
            assert answer.status_code == 401, url
            assert "sign in" in answer.json()["detail"]
        else:
            assert answer.status_code == 303, url
            assert answer.headers["location"].startswith("/signin?next="), url
        assert all(name not in answer.text for name in RECORDS.values()), url


def test_an_expired_session_signs_in_again_and_returns_to_the_page(
    site: SignedInSite,
) -> None:
    with site.browser() as browser:
        first = sign_in(browser, LOGINS["seller_a"], start="/pipeline")
        assert first.url.path == "/pipeline" and "Deal o1" in first.text
        cookie = next(
            response.headers["set-cookie"]
            for response in first.history
            if "rapport_session=" in response.headers.get("set-cookie", "")
        )
        site.clock.now += site.settings.session_hours * 3600 + 1

        api = browser.get("/api/portfolio")
        again = sign_in(browser, LOGINS["seller_a"], start="/pipeline")

    assert first.headers["strict-transport-security"] == "max-age=31536000"
    assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
    lowered = cookie.lower()
    assert "httponly" in lowered and "secure" in lowered and "samesite=lax" in lowered
    assert f"max-age={int(site.settings.session_hours * 3600)}" in lowered
    assert api.status_code == 401
    assert again.status_code == 200 and again.url.path == "/pipeline"


def test_someone_who_is_no_system_user_is_refused_by_name(site: SignedInSite) -> None:
    with site.browser() as browser:
        refused = sign_in(browser, STRANGER)
        after = browser.get("/api/me")

    assert refused.status_code == 403
    assert f"no Rapport user has the address '{STRANGER}'" in unescape(refused.text)
    assert after.status_code == 401


def test_the_session_cookie_cannot_be_forged(site: SignedInSite) -> None:
    with site.browser() as browser:
        sign_in(browser, LOGINS["seller_a"])
        value = browser.cookies["rapport_session"]
        payload, rest = value.split(".", 1)
        browser.cookies.clear()
        # Flip the payload (e.g. to claim the manager role): the signature no longer fits.
        forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
        browser.cookies.set("rapport_session", f"{forged}.{rest}", domain="127.0.0.1")
        answer = browser.get("/api/me")

    assert answer.status_code == 401
    assert isinstance(answer, httpx.Response)


def test_after_sign_in_only_a_page_of_this_site_is_opened(site: SignedInSite) -> None:
    landed = []
    for elsewhere in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        with site.browser() as browser:
            landed.append(sign_in(browser, LOGINS["seller_a"], start=f"/signin?next={elsewhere}"))

    assert [(page.url.host, page.url.path) for page in landed] == [("127.0.0.1", "/portfolio")] * 3
