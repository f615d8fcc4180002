"""Views by relationship: the pure rules (scenario tables) and `rapport health list`
against a seeded store on SQLite and PostgreSQL (sorting, filters, owner scope, at risk)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from insights import views
from insights.notice import EMPLOYMENT_NOTICE
from insights.views import SortKey, ViewFilter
from storage.engine import session_scope
from tests.insights.seeded import NOW, seed_book
from tests.worker.cli_runner import Outcome, run_cli
from worker.cli import insights_commands

GOOD, FAIR, POOR = 0, 1, 2
IMPROVING, STEADY, DECLINING = 0, 1, 2


@pytest.mark.parametrize(
    ("state", "trend", "at_risk"),
    [
        (POOR, STEADY, True),
        (POOR, IMPROVING, True),
        (POOR, None, True),
        (FAIR, DECLINING, True),
        (FAIR, STEADY, False),
        (FAIR, IMPROVING, False),
        (GOOD, DECLINING, False),
        (None, None, False),
        (3, DECLINING, False),  # not enough info
    ],
)
def test_at_risk_is_poor_or_declining_fair(
    state: int | None, trend: int | None, at_risk: bool
) -> None:
    assert views.is_at_risk(state, trend) is at_risk


def _row(
    rid: str,
    score: int | None,
    state: int | None = FAIR,
    trend: int | None = STEADY,
    revenue: float | None = None,
    close: str | None = None,
    last: str | None = None,
) -> dict[str, Any]:
    return {
        "record_type": "opportunity",
        "record_id": rid,
        "health_score": score,
        "health_state": state,
        "health_trend": trend,
        "estimated_revenue": revenue,
        "estimated_close_date": None if close is None else datetime.fromisoformat(close).date(),
        "last_activity_at": None if last is None else datetime.fromisoformat(last),
    }


ROWS = [
    _row("a", 50, trend=STEADY, revenue=10.0, close="2027-01-05", last="2026-11-01T00:00+00:00"),
    _row("b", 20, state=POOR, trend=IMPROVING, revenue=None, close="2026-12-01"),
    _row(
        "c", None, state=None, trend=None, revenue=300.0, close=None, last="2026-10-01T00:00+00:00"
    ),
    _row(
        "d", 45, trend=DECLINING, revenue=300.0, close="2026-12-01", last="2026-11-15T00:00+00:00"
    ),
    _row("e", 45, trend=DECLINING, revenue=5.0, close="2027-02-01", last="2026-11-15T00:00+00:00"),
]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        (SortKey.health, ["b", "d", "e", "a", "c"]),  # lowest first, unscored last, ties by id
        (SortKey.trend, ["d", "e", "b", "a", "c"]),  # declining first, then lowest score
        (SortKey.revenue, ["c", "d", "a", "e", "b"]),  # largest first, none last
        (SortKey.close_date, ["b", "d", "a", "e", "c"]),  # soonest first, none last
        (SortKey.last_activity, ["b", "c", "a", "d", "e"]),  # never first, then longest silence
    ],
)
def test_each_sort_orders_rows_as_documented(sort: SortKey, order: list[str]) -> None:
    chosen = views.select(ROWS, ViewFilter(sort=sort, limit=None))

    assert [row["record_id"] for row in chosen.rows] == order


@pytest.mark.parametrize(
    ("view", "kept", "matched"),
    [
        (ViewFilter(at_risk=True), ["b", "d", "e"], 3),
        (ViewFilter(states=frozenset({FAIR})), ["d", "e", "a"], 3),
        (ViewFilter(trends=frozenset({DECLINING})), ["d", "e"], 2),
        (ViewFilter(states=frozenset({FAIR}), at_risk=True), ["d", "e"], 2),
        (ViewFilter(limit=2), ["b", "d"], 5),
    ],
)
def test_filters_and_limit(view: ViewFilter, kept: list[str], matched: int) -> None:
    chosen = views.select(ROWS, view)

    assert [row["record_id"] for row in chosen.rows] == kept
    assert chosen.matched == matched


def test_the_store_narrows_at_risk_to_fair_and_poor_only() -> None:
    assert ViewFilter(at_risk=True).store_states() == frozenset({FAIR, POOR})
    good_or_poor = ViewFilter(states=frozenset({GOOD, POOR}), at_risk=True)
    assert good_or_poor.store_states() == frozenset({POOR})
    assert ViewFilter().store_states() is None


@pytest.mark.parametrize(
    ("computed_at", "expected"),
    [
        # weeks start 2026-10-19 .. 2026-11-16 (Mondays); 30 days before 11-20 is 10-21
        (datetime(2026, 11, 20, 12, tzinfo=UTC), (4 + 3 + 2 + 1, 0)),
        (datetime(2026, 11, 17, tzinfo=UTC), (4 + 3 + 2 + 1 + 5, 0)),  # 10-19 is in the window
        (None, (None, None)),
    ],
)
def test_emails_in_30_days_add_the_weeks_starting_in_the_window(
    computed_at: datetime | None, expected: tuple[int | None, int | None]
) -> None:
    weekly = [
        {"week_start": start, "emails_sent": sent, "emails_received": 0}
        for start, sent in (
            ("2026-10-12", 9),
            ("2026-10-19", 5),
            ("2026-10-26", 4),
            ("2026-11-02", 3),
            ("2026-11-09", 2),
            ("2026-11-16", 1),
        )
    ]
    assert views.recent_emails(weekly, computed_at) == expected


def test_a_shaped_row_has_the_documented_fields_in_order() -> None:
    stored = {
        **ROWS[0],
        "name": "Deal a",
        "owner_id": None,
        "owner_name": None,
        "last_activity_kind": None,
        "last_activity_direction": None,
        "next_activity_at": None,
        "next_activity_kind": None,
        "response_rate_by_them": None,
        "computed_at": None,
    }
    shaped = views.shape_row(stored, {"weekly": [], "reasons": ["first", "second"]})

    assert tuple(shaped) == views.ROW_FIELDS
    assert shaped["first_reason"] == "first" and shaped["grade"] == "Fair"
    assert shaped["trend"] == "Steady" and shaped["at_risk"] is False


# --- against a seeded store, through the command a seller runs ---------------------------


@pytest.fixture
def book(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    seed_book(engine)
    return engine


def _listed(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    ran = run_cli(capsys, "health", "list", "--json", *args)
    assert ran.code == 0, ran.err
    payload: dict[str, Any] = json.loads(ran.out)
    return payload


def _ids(payload: dict[str, Any]) -> list[str]:
    return [row["record_id"] for row in payload["rows"]]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("health", ["o2", "o1", "o5", "o4", "o6", "o7"]),
        ("trend", ["o1", "o2", "o5", "o4", "o6", "o7"]),
        ("revenue", ["o1", "o2", "o5", "o7", "o4", "o6"]),  # o4, o6 have none: last, by id
        ("close-date", ["o5", "o2", "o1", "o7", "o6", "o4"]),  # o5: past, still listed
        ("last-activity", ["o4", "o6", "o7", "o1", "o5", "o2"]),
    ],
)
def test_open_opportunities_sorted(
    book: Engine, capsys: pytest.CaptureFixture[str], sort: str, order: list[str]
) -> None:
    payload = _listed(capsys, "--type", "opportunity", "--sort", sort)

    assert _ids(payload) == order
    assert "o3" not in _ids(payload)  # won: closed deals are left out by default
    assert payload["notice"] == EMPLOYMENT_NOTICE


def test_owner_scope_by_address_and_closed_records_on_request(
    book: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = _listed(capsys, "--type", "opportunity", "--owner", "ANA@ours.example ")
    with_closed = _listed(capsys, "--type", "opportunity", "--owner", "u1", "--include-closed")

    assert sorted(_ids(mine)) == ["o1", "o2", "o5", "o6", "o7"]
    assert sorted(_ids(with_closed)) == ["o1", "o2", "o3", "o5", "o6", "o7"]
    assert {row["owner_name"] for row in mine["rows"]} == {"Ana Seller"}
    assert mine["owner"] == {"id": "u1", "name": "Ana Seller"}


def test_a_contacts_owner_is_its_accounts_owner(
    book: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    anas = _listed(capsys, "--type", "contact", "--owner", "u1")
    everyone = _listed(capsys, "--type", "contact")

    assert _ids(anas) == ["c2", "c1"]
    assert _ids(everyone) == ["c2", "c3", "c1", "c4"]  # c4: no account, never scored, last
    assert everyone["rows"][-1]["grade"] is None and everyone["rows"][-1]["emails_sent_30d"] is None


def test_at_risk_across_every_type(book: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    payload = _listed(capsys, "--at-risk", "--sort", "trend")

    # Poor, or Fair and declining; the disqualified lead l2 (Poor) is closed: left out.
    assert [(r["record_type"], r["record_id"]) for r in payload["rows"]] == [
        ("lead", "l1"),
        ("opportunity", "o1"),
        ("contact", "c3"),
        ("opportunity", "o2"),
        ("contact", "c2"),
    ]
    assert all(row["at_risk"] for row in payload["rows"])


def test_state_and_trend_filters_and_the_limit(
    book: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    fair_declining = _listed(capsys, "--state", "fair", "--trend", "declining")
    poor_or_computing = _listed(capsys, "--type", "opportunity", "--state", "poor,5")
    limited = _listed(capsys, "--type", "opportunity", "--limit", "2")

    assert sorted(_ids(fair_declining)) == ["c3", "l1", "o1"]
    assert _ids(poor_or_computing) == ["o2", "o6"]
    assert _ids(limited) == ["o2", "o1"] and limited["matched"] == 6


def test_a_row_carries_the_key_kpis_and_first_reason(
    book: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    row = _listed(capsys, "--type", "opportunity", "--limit", "1")["rows"][0]

    assert row["record_id"] == "o2" and row["name"] == "Deal o2"
    assert (row["health_score"], row["grade"], row["trend"]) == (20, "Poor", "Steady")
    assert row["first_reason"] == "no meeting in 60 days"
    assert (row["emails_sent_30d"], row["emails_received_30d"]) == (4, 8)
    assert row["last_activity_at"] == "2026-11-18T12:00:00+00:00"
    assert row["response_rate_by_them"] == 0.5 and row["estimated_revenue"] == 100_000.0


def test_csv_starts_with_the_notice_then_the_header(
    book: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = run_cli(capsys, "health", "list", "--type", "lead", "--csv")

    assert ran.code == 0, ran.err
    first, rest = ran.out.split("\n", 1)
    assert first == f"# {EMPLOYMENT_NOTICE}"
    rows = list(csv.DictReader(io.StringIO(rest)))
    assert tuple(rows[0]) == views.ROW_FIELDS
    assert [row["record_id"] for row in rows] == ["l1", "l3"]
    assert rows[1]["health_score"] == "" and rows[0]["first_reason"] == "no reply since the demo"


def test_text_output_shows_the_notice_and_the_rows(
    book: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = run_cli(capsys, "health", "list", "--type", "opportunity", "--at-risk")

    assert ran.code == 0, ran.err
    assert ran.out.splitlines()[0] == EMPLOYMENT_NOTICE
    assert "Deal o2" in ran.out and "Deal o1" in ran.out and "Deal o5" not in ran.out
    assert "2 of 2 matching records shown" in ran.out


def _refused(ran: Outcome, starts: str) -> None:
    assert ran.code == 2, ran.err
    assert ran.out == "" and ran.err.count("\n") == 1 and ran.err.startswith(starts), ran.err


@pytest.mark.parametrize(
    ("args", "starts"),
    [
        (("--state", "great"), "rapport: --state: 'great' is not allowed"),
        (("--trend", "up"), "rapport: --trend: 'up' is not allowed"),
        (("--owner", "nobody@ours.example"), "rapport: --owner: no system user"),
        (("--limit", "-1"), "rapport: --limit: -1 is not allowed"),
        (("--json", "--csv"), "rapport: --csv: give either --json or --csv"),
        (("--type", "deal"), "rapport: Invalid value for '--type'"),
        (("--sort", "size"), "rapport: Invalid value for '--sort'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    book: Engine, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], starts: str
) -> None:
    _refused(run_cli(capsys, "health", "list", *args), starts)


def test_the_demo_lists_come_from_the_view_functions(book: Engine) -> None:
    with session_scope(book) as session:
        risky = insights_commands.demo_at_risk(session)
        deals = insights_commands.demo_deals_at_risk(session)

    # Fair or Poor of any type and status, declining first, then lowest score.
    assert [(r["record_type"], r["record_id"]) for r in risky] == [
        ("lead", "l1"),
        ("opportunity", "o1"),
        ("contact", "c3"),
        ("lead", "l2"),
        ("opportunity", "o2"),
        ("contact", "c2"),
        ("opportunity", "o5"),
        ("account", "a1"),
    ]
    assert [d["id"] for d in deals] == ["o1", "o2", "o5"]
    assert deals[0]["reasons"][0] == "Dana has not answered 3 emails"
    assert NOW.year == 2026
