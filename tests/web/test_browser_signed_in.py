"""Signed in, in a real browser: Debian's headless Chromium signs in to the production app
(Entra ID through MSAL, over HTTPS) against the emulator's authorize endpoint, the way a
person does, with JavaScript on and off; a seller sees their portfolio, not the admin
page; an admin changes a setting and finds the change in the audit.

The app and the emulator use throw-away CAs that Chromium does not know, so the browser
contexts accept their certificates (ignore_https_errors); everything else is as in
production: Secure, HttpOnly session cookies, CSRF tokens in the forms, the form_post
answer page. Screenshots of a failed test: see test_browser.py.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy.engine import Engine

from insights.notice import EMPLOYMENT_NOTICE
from tests.web.browser_fixtures import BOTH_WAYS, Watch, browser, launched, open_page
from tests.web.entra import LOGINS, SignedInSite, seed_people, signed_in_site

__all__ = ["browser", "launched"]  # fixtures (tests/web/browser_fixtures.py)


@pytest.fixture
def site(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SignedInSite]:
    seed_people(engine)
    with signed_in_site(engine, tmp_path_factory.mktemp("site"), monkeypatch) as running:
        yield running


def _browse(browser: Browser, site: SignedInSite, *, javascript: bool) -> tuple[Page, Watch]:
    # The app's and the emulator's certificates come from throw-away CAs.
    return open_page(
        browser,
        site.base_url,
        javascript=javascript,
        also=(site.emulator.authority,),
        https_trusted=False,
    )


def _sign_in(page: Page, site: SignedInSite, login: str, *, javascript: bool) -> None:
    """Open the portfolio, pick `login` on the emulator's sign-in page, come back."""
    page.goto("/portfolio")
    page.get_by_label("Account").select_option(login)
    page.locator("#sign-in").click()
    if not javascript:  # the form_post page's script posts the answer; without it, a button
        page.locator("#continue").click()
    page.wait_for_url(f"{site.base_url}/portfolio")


@BOTH_WAYS
def test_a_seller_signs_in_and_sees_their_team_portfolio_but_not_the_admin_page(
    site: SignedInSite, browser: Browser, javascript: bool
) -> None:
    page, watch = _browse(browser, site, javascript=javascript)

    _sign_in(page, site, LOGINS["seller_a"], javascript=javascript)
    shown = page.locator("table.rows tbody td:first-child a").all_inner_texts()
    viewer = page.locator("header .viewer").inner_text()
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    admin = page.goto("/admin")

    assert "Ana Seller" in viewer
    assert "Deal o1" in shown and "Deal o4" in shown  # own and a team mate's
    assert "Deal o8" not in shown  # another team's
    assert "Trial mode" not in page.content()
    session = [c for c in cookies.values() if c["domain"] == "127.0.0.1" and c["httpOnly"]]
    assert session and all(c["secure"] for c in session), cookies
    assert admin is not None and admin.status == 403
    assert watch.elsewhere == [] and [e for e in watch.errors if "/admin" not in e] == []


@BOTH_WAYS
def test_an_admin_changes_a_setting_and_sees_the_audit_row(
    site: SignedInSite, browser: Browser, javascript: bool
) -> None:
    page, watch = _browse(browser, site, javascript=javascript)
    _sign_in(page, site, LOGINS["admin"], javascript=javascript)

    page.get_by_role("link", name="Admin").click()
    page.wait_for_url(f"{site.base_url}/admin")
    before = page.locator("#current-influence-email").inner_text()
    page.get_by_label("New value for influence.email").fill("8")
    page.locator("#save-influence-email").click()
    page.wait_for_load_state()
    saved = page.locator("#setting-changed").inner_text()
    audit = page.locator("#audit-table tbody tr").first.locator("td").all_inner_texts()

    assert before == "6"
    assert "influence.email" in saved
    assert page.locator("#current-influence-email").inner_text() == "8"
    # When, who, where, setting, old, new.
    assert audit[1:] == ["ada@ours.example", "web admin", "influence.email", "6", "8"], audit
    assert watch.elsewhere == [] and watch.errors == []


def test_a_seller_drafts_an_introduction_and_receives_the_eml(
    site: SignedInSite, browser: Browser
) -> None:
    page, watch = _browse(browser, site, javascript=True)
    _sign_in(page, site, LOGINS["seller_a"], javascript=True)

    page.goto("/records/contact/c1")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Draft introduction via Ben Seller").click()
    download = downloading.value
    message = email.message_from_bytes(
        Path(download.path()).read_bytes(), policy=email.policy.default
    )

    assert download.suggested_filename == "introduction-dana-ruiz-via-ben-seller.eml"
    assert message["From"] == "Ana Seller <ana@ours.example>"
    assert message["To"] == "Ben Seller <ben@ours.example>"
    assert "Dana Ruiz" in message["Subject"]
    assert message["X-Rapport-Notice"] == EMPLOYMENT_NOTICE
    assert "Dana Ruiz" in message.get_content()
    assert page.url == f"{site.base_url}/records/contact/c1"  # the page stays
    assert watch.elsewhere == [] and watch.errors == []
