"""The web app in a real browser: Debian's headless Chromium driven by Playwright, against
the real app served by uvicorn on a loopback port, over the seeded book (tests/web/book.py),
on SQLite and PostgreSQL, with JavaScript on and off (every page works without it).

A test that fails leaves a screenshot of every page it had open in $RAPPORT_ARTIFACTS
(else tests/web/artifacts/). Without /usr/bin/chromium the tests fail, naming it
(tests/web/browser_fixtures.py says why).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy.engine import Engine

from insights.notice import EMPLOYMENT_NOTICE
from tests.insights.seeded import NOW
from tests.web.book import seed
from tests.web.browser_fixtures import BOTH_WAYS, browser, launched, open_page
from tests.web.server import serving
from web.app import trial_app

__all__ = ["browser", "launched"]  # fixtures (tests/web/browser_fixtures.py)

O1_TITLE = "Deal o1 (Fair, 40) - Dana has not answered 3 emails"


@pytest.fixture
def trial_url(engine: Engine) -> Iterator[str]:
    """`rapport web --trial` over the seeded book, on a loopback port; its base URL."""
    seed(engine)
    with serving(trial_app(engine, clock=lambda: NOW)) as web:
        yield str(web.base_url).rstrip("/")


def _row_records(page: Page) -> list[str]:
    links = page.locator("table.rows tbody tr td:first-child a")
    return [
        str(href).removeprefix("/records/")
        for href in links.evaluate_all("links => links.map(link => link.getAttribute('href'))")
    ]


@BOTH_WAYS
def test_portfolio_sorts_by_revenue_from_its_form(
    trial_url: str, browser: Browser, javascript: bool
) -> None:
    page, watch = open_page(browser, trial_url, javascript=javascript)

    page.goto("/")
    landed = page.url
    banner = page.get_by_role("status").inner_text()
    page.get_by_label("Type").select_option("opportunity")
    page.get_by_label("Sort").select_option("revenue")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/portfolio?*sort=revenue*")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download CSV").click()
    download = downloading.value
    notice, *rows = Path(download.path()).read_text(encoding="utf-8").splitlines()

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
    # The download is the rows shown, in the order shown, under the notice.
    assert download.suggested_filename == "portfolio.csv"
    assert notice == f"# {EMPLOYMENT_NOTICE}"
    assert [f"{row['record_type']}/{row['record_id']}" for row in csv.DictReader(rows)] == (
        _row_records(page)
    )
    assert "must not be used to make or support decisions" in page.locator("footer").inner_text()
    assert watch.elsewhere == [] and watch.errors == []


@BOTH_WAYS
def test_a_pipeline_bubble_names_its_deal_on_hover_and_opens_its_record_page(
    trial_url: str, browser: Browser, javascript: bool
) -> None:
    page, watch = open_page(browser, trial_url, javascript=javascript)
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
    # The same data as a table below the chart, for keyboards and screen readers.
    assert page.get_by_role("link", name="Deal o1", exact=True).get_attribute("href") == (
        "/records/opportunity/o1"
    )
    with page.expect_navigation():  # the chart's links open the record in the same tab
        page.mouse.click(x, y)

    assert tooltip == O1_TITLE
    assert page.url == f"{trial_url}/records/opportunity/o1"
    assert page.get_by_role("heading", level=1).inner_text().startswith("Deal o1")
    assert page.locator(".score").inner_text() == "40"
    assert len(page.context.pages) == 1
    assert watch.elsewhere == [] and watch.errors == []
