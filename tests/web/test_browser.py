"""The web app in a real browser: Debian's headless Chromium driven by Playwright, against
the real app served by uvicorn on a loopback port, over the seeded book (tests/web/book.py),
on SQLite and PostgreSQL, with JavaScript on and off (every page works without it).

A test that fails leaves a screenshot of every page it had open in $RAPPORT_ARTIFACTS
(else tests/web/artifacts/). Without /usr/bin/chromium the tests fail, naming it: CI
installs it (.ci/run), and a browser test that did not run must not look like one that
passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Response
from sqlalchemy.engine import Engine

from tests.insights.seeded import NOW
from tests.web.book import seed
from tests.web.browser_chromium import VIEWPORT, ChromiumMissing, chromium, screenshot_pages
from tests.web.server import serving
from web.app import trial_app

TIMEOUT_MS = 15_000
O1_TITLE = "Deal o1 (Fair, 40) - Dana has not answered 3 emails"


@pytest.fixture(scope="module")
def launched() -> Iterator[Browser]:
    """One Chromium for the module (a launch takes a second or two)."""
    try:
        with chromium() as browser:
            yield browser
    except ChromiumMissing as missing:
        pytest.fail(str(missing), pytrace=False)


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


@pytest.fixture
def trial_url(engine: Engine) -> Iterator[str]:
    """`rapport web --trial` over the seeded book, on a loopback port; its base URL."""
    seed(engine)
    with serving(trial_app(engine, clock=lambda: NOW)) as web:
        yield str(web.base_url).rstrip("/")


@dataclass
class Watch:
    """What a page did that a user would not want: requests to anywhere but the app,
    answers in error, console errors (a refused style or script), uncaught errors. The
    browser's own request for /favicon.ico (the app has none) is not the page's."""

    base: str
    elsewhere: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.on("request", self._request)
        context.on("response", self._response)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.errors.append(str(error.error)))

    def _request(self, request: Request) -> None:
        if not request.url.startswith(self.base + "/"):
            self.elsewhere.append(request.url)

    def _response(self, response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.errors.append(f"{response.status} {response.url}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)  # failed loads: _response names them


def _open(browser: Browser, base: str, *, javascript: bool) -> tuple[Page, Watch]:
    context = browser.new_context(
        base_url=base, java_script_enabled=javascript, viewport=VIEWPORT, accept_downloads=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    watch = Watch(base)
    watch.attach(context)
    return context.new_page(), watch


def _row_records(page: Page) -> list[str]:
    links = page.locator("table.rows tbody tr td:first-child a")
    return [
        str(href).removeprefix("/records/")
        for href in links.evaluate_all("links => links.map(link => link.getAttribute('href'))")
    ]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_portfolio_sorts_by_revenue_from_its_form(
    browser: Browser, trial_url: str, javascript: bool
) -> None:
    page, watch = _open(browser, trial_url, javascript=javascript)

    page.goto("/")
    landed = page.url
    banner = page.get_by_role("status").inner_text()
    page.get_by_label("Type").select_option("opportunity")
    page.get_by_label("Sort").select_option("revenue")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/portfolio?*sort=revenue*")

    assert landed == f"{trial_url}/portfolio"
    assert banner.startswith("Trial mode: no sign-in")
    assert page.get_by_role("heading", level=1).inner_text() == "Portfolio by relationship"
    # At risk first (o1, o2), then by revenue, largest first; deals without one last.
    assert _row_records(page) == [
        "opportunity/o1",
        "opportunity/o2",
        "opportunity/o8",
        "opportunity/o5",
        "opportunity/o7",
        "opportunity/o4",
        "opportunity/o6",
    ]
    assert page.get_by_label("Sort").input_value() == "revenue"  # the form keeps the choice
    assert "must not be used to make or support decisions" in page.locator("footer").inner_text()
    assert watch.elsewhere == [] and watch.errors == []


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_pipeline_bubble_names_its_deal_on_hover_and_opens_its_record_page(
    browser: Browser, trial_url: str, javascript: bool
) -> None:
    page, watch = _open(browser, trial_url, javascript=javascript)
    page.goto("/pipeline")
    bubble = page.locator('svg g[id^="bubble-"]', has_text="Deal o1").locator("a")
    box = bubble.bounding_box()
    assert box is not None, "the bubble of Deal o1 is not drawn"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    page.mouse.move(x, y)
    # The browser's tooltip is the <title> of the bubble under the pointer.
    tooltip = page.evaluate(
        """([x, y]) => document.elementFromPoint(x, y)
             ?.closest('g[id^="bubble-"]')?.querySelector(':scope > title')?.textContent""",
        [x, y],
    )
    with page.context.expect_page() as opened:  # the chart's links open a new tab
        page.mouse.click(x, y)
    record = opened.value
    record.wait_for_load_state()

    assert tooltip == O1_TITLE
    assert record.url == f"{trial_url}/records/opportunity/o1"
    assert record.get_by_role("heading", level=1).inner_text().startswith("Deal o1")
    assert record.locator(".score").inner_text() == "40"
    # The same data as a table below the chart, for keyboards and screen readers.
    assert page.get_by_role("link", name="Deal o1", exact=True).get_attribute("href") == (
        "/records/opportunity/o1"
    )
    assert watch.elsewhere == [] and watch.errors == []
