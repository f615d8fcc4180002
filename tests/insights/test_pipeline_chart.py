"""The relationship pipeline chart: its data (scenario tables), the drawn SVG and PNG
(parsed: bubble count, colours, positions from the data, titles, links), and
`rapport pipeline chart` on a seeded store on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy.engine import Engine

from insights import pipeline_chart as chart
from insights.notice import EMPLOYMENT_NOTICE
from insights.pipeline_chart import COLOUR_HEX, Colour
from insights.pipeline_chart_render import render
from tests.insights.seeded import NOW, seed_book
from tests.worker.cli_runner import run_cli

SVG = "{http://www.w3.org/2000/svg}"
GOOD, FAIR, POOR, NOT_ENOUGH, NO_CLOSED, COMPUTING, WRONG, OLD = range(8)


@pytest.mark.parametrize(
    ("state", "score", "colour"),
    [
        (GOOD, 80, Colour.good),
        (FAIR, 55, Colour.fair),
        (POOR, 10, Colour.poor),
        (COMPUTING, None, Colour.pending),
        (COMPUTING, 70, Colour.pending),
        (NOT_ENOUGH, None, Colour.none),
        (NO_CLOSED, None, Colour.none),
        (WRONG, None, Colour.none),
        (OLD, None, Colour.none),
        (None, None, Colour.none),  # never scored
        (GOOD, None, Colour.none),  # no health score: grey, whatever the state says
    ],
)
def test_colour_by_state(state: int | None, score: int | None, colour: Colour) -> None:
    assert chart.colour_of(state, score) is colour


@pytest.mark.parametrize(
    ("revenue", "largest", "area"),
    [
        (None, 1000.0, chart.SMALLEST_AREA),
        (0.0, 1000.0, chart.SMALLEST_AREA),
        (-5.0, 1000.0, chart.SMALLEST_AREA),
        (1000.0, 1000.0, chart.LARGEST_AREA),
        (500.0, 1000.0, (chart.SMALLEST_AREA + chart.LARGEST_AREA) / 2),
        (None, 0.0, chart.SMALLEST_AREA),
    ],
)
def test_area_grows_with_revenue(revenue: float | None, largest: float, area: float) -> None:
    assert chart.area_of(revenue, largest) == area


def _deal(
    rid: str,
    score: int | None,
    state: int | None,
    revenue: float | None,
    close: date | None,
    reason: str | None = "a reason",
) -> dict[str, Any]:
    return {
        "record_id": rid,
        "name": f"Deal {rid} <&>",
        "health_score": score,
        "health_state": state,
        "estimated_revenue": revenue,
        "estimated_close_date": close,
        "first_reason": reason,
    }


AS_OF = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)
DEALS = [
    _deal("big-fair", 40, FAIR, 900_000.0, date(2026, 12, 5)),
    _deal("good", 90, GOOD, 300_000.0, date(2027, 3, 1)),
    _deal("poor", 15, POOR, 100_000.0, date(2026, 11, 20)),  # closes today: shown
    _deal("computing", None, COMPUTING, 50_000.0, date(2027, 1, 10)),
    _deal("unscored", None, None, None, date(2027, 2, 1), reason=None),
    _deal("past", 60, FAIR, 200_000.0, date(2026, 11, 19)),
    _deal("undated", 60, FAIR, 200_000.0, None),
]


def test_chart_data_follows_the_missing_value_rules() -> None:
    data = chart.chart_data(DEALS, now=AS_OF, record_url="https://crm.example/deal/{id}")
    by_id = {bubble.opportunity_id: bubble for bubble in data.bubbles}

    assert [b.opportunity_id for b in data.bubbles] == [
        "big-fair",
        "good",
        "poor",
        "computing",
        "unscored",
    ]  # largest first, so that small bubbles are drawn on top
    assert data.not_shown == {"no_close_date": 1, "close_date_past": 1}
    assert (by_id["unscored"].health_score, by_id["unscored"].colour) == (0, Colour.none)
    assert by_id["unscored"].area == chart.SMALLEST_AREA and by_id["unscored"].revenue == 0.0
    assert (by_id["computing"].health_score, by_id["computing"].colour) == (0, Colour.pending)
    assert by_id["big-fair"].area == chart.LARGEST_AREA
    assert by_id["good"].link == "https://crm.example/deal/good"


def test_a_record_link_quotes_the_id() -> None:
    assert chart.record_link("rapport://opportunity/{id}", "a/b c") == (
        "rapport://opportunity/a%2Fb%20c"
    )


def test_a_bubble_title_names_the_deal_its_grade_and_first_reason() -> None:
    data = chart.chart_data(DEALS, now=AS_OF)
    titles = {b.opportunity_id: chart.bubble_title(b) for b in data.bubbles}

    assert titles["big-fair"] == "Deal big-fair <&> (Fair, 40) - a reason"
    assert titles["unscored"] == "Deal unscored <&> (No computation, no health score)"


def _bubbles(svg: Path) -> list[dict[str, Any]]:
    root = ET.parse(svg).getroot()
    found = []
    for group in root.iter(f"{SVG}g"):
        if not group.get("id", "").startswith("bubble-"):
            continue
        link = group.find(f"{SVG}a")
        assert link is not None
        dot = link.find(f"{SVG}circle")
        assert dot is not None
        title = group.find(f"{SVG}title")
        assert title is not None
        found.append(
            {
                "id": group.get("id"),
                "title": title.text,
                "href": link.get("href"),
                "x": float(dot.get("cx", "nan")),
                "y": float(dot.get("cy", "nan")),
                "fill": dot.get("fill"),
            }
        )
    return found


def test_the_svg_holds_one_titled_linked_bubble_per_deal_placed_by_the_data(
    tmp_path: Path,
) -> None:
    data = chart.chart_data(DEALS, now=AS_OF, record_url="https://crm.example/deal/{id}?a=1&b=2")
    out = tmp_path / "pipeline.svg"
    render(data, out, "Relationship pipeline")

    drawn = _bubbles(out)
    assert len(drawn) == len(data.bubbles) == 5
    for bubble, dot in zip(data.bubbles, drawn, strict=True):
        assert dot["fill"] == COLOUR_HEX[bubble.colour]
        assert dot["title"] == chart.bubble_title(bubble)  # escaped in the file, intact here
        assert dot["href"] == f"https://crm.example/deal/{bubble.opportunity_id}?a=1&b=2"
    # x grows with the close date; y (SVG: downwards) falls as the score rises
    by_date = sorted(zip(data.bubbles, drawn, strict=True), key=lambda p: p[0].close_date)
    assert [d["x"] for _, d in by_date] == sorted(d["x"] for d in drawn)
    by_score = sorted(zip(data.bubbles, drawn, strict=True), key=lambda p: p[0].health_score)
    scores_y = [(b.health_score, d["y"]) for b, d in by_score]
    assert all(
        y1 > y2 for (s1, y1), (s2, y2) in zip(scores_y, scores_y[1:], strict=False) if s1 < s2
    )
    zero = [d["y"] for b, d in zip(data.bubbles, drawn, strict=True) if b.health_score == 0]
    assert len(set(zero)) == 1  # no health: both at 0
    text = out.read_text(encoding="utf-8")
    assert EMPLOYMENT_NOTICE.replace("'", "&#39;") in text or EMPLOYMENT_NOTICE in text


def test_the_png_has_the_size_and_the_bubble_colours(tmp_path: Path) -> None:
    data = chart.chart_data(DEALS, now=AS_OF)
    out = tmp_path / "pipeline.png"
    render(data, out, "Relationship pipeline")

    with Image.open(out) as drawn:
        image = drawn.convert("RGB")
    assert image.size == (1000, 600)
    pixels = {colour for _, colour in image.getcolors(maxcolors=1_000_000) or []}
    for colour in (Colour.fair, Colour.good, Colour.poor, Colour.pending, Colour.none):
        hex_colour = COLOUR_HEX[colour].lstrip("#")
        rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (0, 2, 4))
        assert rgb in pixels, colour


def test_an_empty_chart_still_draws_with_its_notice(tmp_path: Path) -> None:
    data = chart.chart_data([], now=AS_OF)
    out = tmp_path / "empty.svg"
    render(data, out, "Relationship pipeline")

    assert _bubbles(out) == []
    assert "No open opportunity closes on or after 2026-11-20" in out.read_text(encoding="utf-8")


# --- `rapport pipeline chart` on a seeded store ---------------------------------------


@pytest.fixture
def book(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    seed_book(engine)
    return engine


def test_one_owners_chart_as_json_and_svg(
    book: Engine,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAPPORT_RECORD_URL_TEMPLATE", "https://crm.example/main.aspx?id={id}")
    out = tmp_path / "mine.svg"
    ran = run_cli(
        capsys,
        "pipeline",
        "chart",
        "--owner",
        "ana@ours.example",
        "--out",
        str(out),
        "--now",
        NOW.isoformat(),
        "--json",
    )

    assert ran.code == 0, ran.err
    payload = json.loads(ran.out)
    assert payload["notice"] == EMPLOYMENT_NOTICE
    bubbles = {b["opportunity_id"]: b for b in payload["bubbles"]}
    assert list(bubbles) == ["o1", "o2", "o7", "o6"]  # largest first; o5 closes in the past
    assert payload["not_shown"] == {"no_close_date": 0, "close_date_past": 1}
    assert (bubbles["o1"]["colour"], bubbles["o1"]["y_health_score"]) == ("fair", 40)
    assert (bubbles["o2"]["colour"], bubbles["o2"]["x_close_date"]) == ("poor", "2026-11-30")
    assert (bubbles["o6"]["colour"], bubbles["o6"]["y_health_score"]) == ("pending", 0)
    assert (bubbles["o7"]["colour"], bubbles["o7"]["scored"]) == ("none", False)
    assert bubbles["o6"]["area"] == chart.SMALLEST_AREA
    assert bubbles["o1"]["first_reason"] == "Dana has not answered 3 emails"
    drawn = _bubbles(out)
    assert [d["href"] for d in drawn] == [
        f"https://crm.example/main.aspx?id={rid}" for rid in ("o1", "o2", "o7", "o6")
    ]
    assert drawn[0]["title"] == "Deal o1 (Fair, 40) - Dana has not answered 3 emails"


def test_everyones_chart_counts_deals_without_a_close_date(
    book: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "all.png"
    ran = run_cli(capsys, "pipeline", "chart", "--out", str(out), "--now", NOW.isoformat())

    assert ran.code == 0, ran.err
    assert ran.out.splitlines()[0] == EMPLOYMENT_NOTICE
    assert "4 open opportunities drawn" in ran.out and "1 without a close date" in ran.out
    with Image.open(out) as image:
        assert image.size == (1000, 600)


@pytest.mark.parametrize(
    ("args", "template", "starts"),
    [
        (("--out", "chart.pdf"), None, "rapport: --out: "),
        ((), None, "rapport: --out: required unless --json"),
        (("--json",), "https://crm.example/deal", "rapport: RAPPORT_RECORD_URL_TEMPLATE: "),
        (("--json", "--owner", "u9"), None, "rapport: --owner: no system user"),
        (("--json", "--now", "soon"), None, "rapport: --now: 'soon' is not allowed"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    book: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: tuple[str, ...],
    template: str | None,
    starts: str,
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    if template is not None:
        monkeypatch.setenv("RAPPORT_RECORD_URL_TEMPLATE", template)
    ran = run_cli(capsys, "pipeline", "chart", *args)

    assert ran.code == 2, ran.err
    assert ran.err.startswith(starts) and ran.err.count("\n") == 1, ran.err
    assert list(here.iterdir()) == []  # no chart written
