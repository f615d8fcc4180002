"""The browser tests' fixtures and watch, shared by tests/web/test_browser*.py (which
import the fixtures by name; tests/web has no conftest of its own).

`launched`: one headless Chromium per test module (tests/web/browser_chromium.py); the
tests fail, naming it, when /usr/bin/chromium is missing: CI installs it (.ci/run), and
a browser test that did not run must not look like one that passed. `browser`: that
Chromium for one test; if the test failed, a full-page screenshot of every page it left
open goes to $RAPPORT_ARTIFACTS (else tests/web/artifacts/), listed in the report.
A test names its server fixture before `browser`, so that the browser's contexts (and
their keep-alive connections) are closed before the server stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
)

from tests.web.browser_chromium import VIEWPORT, chromium, missing, screenshot_pages

TIMEOUT_MS = 15_000
# Each browser flow runs twice: on SQLite with JavaScript on, on PostgreSQL with it off
# (every page must work without it). Both stores and both ways, in half the runs of
# their product: the app's pages carry no script (CSP script-src 'none'), so JavaScript
# changes only the emulator's form_post page, and the store is not what a browser tests.
BOTH_WAYS = pytest.mark.parametrize(
    ("database_url", "javascript"),
    [
        pytest.param("sqlite", True, id="sqlite-js"),
        pytest.param("postgres", False, id="postgres-no-js"),
    ],
    indirect=["database_url"],
)


@pytest.fixture(scope="module")
def launched() -> Iterator[Browser]:
    """One Chromium for the module (a launch takes a second or two)."""
    why = missing()
    if why:
        pytest.fail(why, pytrace=False)
    with chromium() as browser:
        yield browser


@pytest.fixture
def browser(launched: Browser, request: pytest.FixtureRequest) -> Iterator[Browser]:
    """The browser for one test: if the test failed, a screenshot of each page it left
    open; then its contexts are closed."""
    failed_before = request.session.testsfailed
    yield launched
    # The call's report is counted before fixtures are torn down.
    if request.session.testsfailed > failed_before:
        shots = screenshot_pages(launched, request.node.nodeid)
        listed = "\n".join(str(path) for path in shots) or "none (no page was open)"
        request.node.add_report_section("teardown", "screenshots", listed)
    for context in launched.contexts:
        context.close()


@dataclass
class Watch:
    """What a page did that a user would not want: requests to anywhere but the app (and
    the sites in `also`), answers in error, console errors (a refused style or script),
    uncaught errors. The browser's own request for /favicon.ico (the app has none) is not
    the page's."""

    base: str
    also: tuple[str, ...] = ()
    elsewhere: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.on("request", self._request)
        context.on("response", self._response)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.errors.append(str(error.error)))

    def _request(self, request: Request) -> None:
        sites = (self.base, *self.also)
        if not any(request.url.startswith(site.rstrip("/") + "/") for site in sites):
            self.elsewhere.append(request.url)

    def _response(self, response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.errors.append(f"{response.status} {response.url}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)  # failed loads: _response names them


def open_page(
    browser: Browser,
    base: str,
    *,
    javascript: bool,
    also: tuple[str, ...] = (),
    https_trusted: bool = True,
) -> tuple[Page, Watch]:
    """A page in a fresh context (no cookies) of `browser`, watched."""
    context = browser.new_context(
        base_url=base,
        java_script_enabled=javascript,
        viewport=VIEWPORT,
        accept_downloads=True,
        ignore_https_errors=not https_trusted,
    )
    context.set_default_timeout(TIMEOUT_MS)
    watch = Watch(base, also)
    watch.attach(context)
    return context.new_page(), watch
