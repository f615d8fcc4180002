"""The record page's similar won deals (as `rapport deals similar`), What's New for the
record's account (as `rapport news show`), and the "Draft introduction" buttons leaving
out colleagues excluded or opted out since the last introducers run (as `rapport
introducers draft`), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.crm_tables import Opportunity, SystemUser
from storage.engine import session_scope
from storage.introducer_store import OPTED_OUT_KEY
from storage.news_tables import NewsItem
from storage.settings_repo import save_settings
from storage.types import core_table
from tests import factories as f
from tests.insights.seeded import NOW
from tests.web.book import SELLER_A, SELLER_B, app_for
from tests.web.server import serving

DRAFT = "/records/contact/c1/introduction.eml?introducer=u2"


def test_an_open_deal_shows_similar_won_deals_and_the_kpi_comparison(
    seller_a: httpx.Client,
) -> None:
    page = seller_a.get("/records/opportunity/o1").text
    record = seller_a.get("/api/records/opportunity/o1").json()

    similar = record["similar_won_deals"]
    assert [deal["id"] for deal in similar["deals"]] == ["o3"]  # the book's one won deal
    assert similar["fallback"] is True and similar["compared_with"] == 1
    assert [kpi["kpi"] for kpi in similar["comparison"]["kpis"]] or (
        similar["comparison"]["window_days"] is None
    )
    assert "<h2>Similar won deals</h2>" in page
    assert "<td>Deal o3</td>" in page
    assert "compared with the top 1 won deals instead" in page
    # A won deal is not compared with others: no section, null in the API.
    assert seller_a.get("/api/records/opportunity/o3").json()["similar_won_deals"] is None
    assert "Similar won deals" not in seller_a.get("/records/opportunity/o3").text


def test_a_seller_sees_won_deals_of_others_as_a_benchmark_but_not_their_pages(
    book: Engine,
) -> None:
    with serving(app_for(book, SELLER_B)) as web:
        record = web.get("/api/records/opportunity/o8").json()
        page = web.get("/records/opportunity/o8").text
        won_page = web.get("/records/opportunity/o3")

    assert [deal["id"] for deal in record["similar_won_deals"]["deals"]] == ["o3"]
    assert "<td>Deal o3</td>" in page
    assert 'href="/records/opportunity/o3"' not in page  # a name, not a link
    assert won_page.status_code == 404  # seller A's deal


def test_whats_new_lists_the_account_s_news_newest_first(
    book: Engine, seller_a: httpx.Client
) -> None:
    quiet = seller_a.get("/records/account/a1").text
    assert "<h2>What's New</h2>" in quiet
    assert "No news about this account in the last" in quiet
    f.insert(
        book,
        NewsItem,
        *(
            {
                "account_id": "a1",
                "link": link,
                "title": title,
                "source": "Wire",
                "published_at": NOW - timedelta(days=days),
                "fetched_at": NOW,
            }
            for link, title, days in (
                ("https://news.example/old", "Contoso hires", 9),
                ("https://news.example/new", "Contoso expands", 1),
                ("javascript:alert(1)", "Contoso tricks", 3),
            )
        ),
    )

    for path in ("/records/account/a1", "/records/contact/c1", "/records/opportunity/o1"):
        page = seller_a.get(path).text
        assert page.index("Contoso expands") < page.index("Contoso tricks") < page.index("hires")
        assert (
            '<a href="https://news.example/new" rel="noopener noreferrer" target="_blank">'
            'Contoso expands</a> <span class="source">Wire</span>'
        ) in page, path
        assert "javascript:" not in page  # shown as text, never a link
    items = seller_a.get("/api/records/account/a1").json()["news"]["items"]
    assert [item["link"] for item in items][0] == "https://news.example/new"
    assert set(items[0]) == {"title", "link", "source", "published_at"}


def _no_button_and_404(web: httpx.Client) -> None:
    assert 'id="draft-u2"' not in web.get("/records/contact/c1").text
    assert web.get(DRAFT).status_code == 404
    assert web.get("/api/records/contact/c1").json()["introducers"] == []


def test_a_colleague_opted_out_since_the_run_has_no_button_and_no_download(
    book: Engine, seller_a: httpx.Client
) -> None:
    assert 'id="draft-u2"' in seller_a.get("/records/contact/c1").text
    assert seller_a.get(DRAFT).status_code == 200
    # Ben opts out; the introducer rows the last run wrote are still there.
    with session_scope(book) as session:
        save_settings(session=session, values={OPTED_OUT_KEY: ["u2"]}, at=NOW)

    _no_button_and_404(seller_a)


def test_a_colleague_disabled_or_excluded_since_the_run_is_left_out(
    book: Engine, seller_a: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RAPPORT_EXCLUDED_USERS is read when the app starts, as the worker reads it.
    monkeypatch.setenv("RAPPORT_EXCLUDED_USERS", "someone@ours.example, BEN@ours.example")
    with serving(app_for(book, SELLER_A)) as restarted:
        _no_button_and_404(restarted)
    assert seller_a.get(DRAFT).status_code == 200  # started before the setting
    users = core_table(SystemUser)
    with book.begin() as connection:
        connection.execute(sa.update(users).where(users.c.id == "u2").values(disabled=True))
    _no_button_and_404(seller_a)


def test_with_no_scored_won_deal_the_page_says_so(book: Engine, seller_a: httpx.Client) -> None:
    deals = core_table(Opportunity)
    with book.begin() as connection:
        connection.execute(sa.update(deals).where(deals.c.id == "o3").values(status="lost"))

    page = seller_a.get("/records/opportunity/o1").text
    similar = seller_a.get("/api/records/opportunity/o1").json()["similar_won_deals"]

    assert similar["compared_with"] == 0 and similar["deals"] == []
    assert '<p id="no-won-deals">No scored won deal to compare with.</p>' in page
    assert "kpi-comparison" not in page
