"""Similar won deals: the distance's parts, the fallback, the KPI windows and bands
(scenario tables), and `rapport deals similar` on a seeded history with known
neighbours on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from insights import similar_deals as sd
from insights.notice import EMPLOYMENT_NOTICE
from storage.crm_tables import Account, Contact, Opportunity, OpportunityStakeholder
from storage.rapport_tables import HealthSnapshot, RelationshipKpi
from tests import factories as f
from tests.worker.cli_runner import run_cli

TODAY = date(2026, 11, 20)
CREATED = date(2026, 10, 12)  # a Monday, 39 days before TODAY


def _weekly(start: date, meetings: list[int], emails: int = 5) -> list[dict[str, Any]]:
    """13 weeks from `start`'s Monday; `meetings` for the first weeks, 0 after."""
    monday = start - timedelta(days=start.weekday())
    counts = meetings + [0] * (13 - len(meetings))
    return [
        {
            "week_start": (monday + timedelta(weeks=w)).isoformat(),
            "emails_sent": emails,
            "emails_received": 1,
            "meetings": counts[w],
            "phone_calls": 0,
        }
        for w in range(13)
    ]


OPEN = sd.Deal(
    "open",
    "Open deal",
    CREATED,
    revenue=100_000,
    account_contacts=3,
    stakeholders=2,
    roles=2,
    team="east",
    weekly=_weekly(CREATED, [1, 0, 0, 1, 0, 0], emails=10),
)


def _won(
    deal_id: str,
    revenue: float | None,
    *,
    cycle: int = 60,
    team: str | None = "east",
    contacts: int = 3,
    people: int = 2,
    roles: int = 2,
    meetings: list[int] | None = None,
    created: date = date(2026, 3, 2),
) -> sd.Deal:
    return sd.Deal(
        deal_id,
        f"Won {deal_id}",
        created,
        revenue=revenue,
        account_contacts=contacts,
        stakeholders=people,
        roles=roles,
        team=team,
        closed_on=created + timedelta(days=cycle),
        weekly=_weekly(created, meetings or [1] * 6),
    )


@pytest.mark.parametrize(
    ("won", "part", "value"),
    [
        (_won("w", 100_000), "revenue", 0.0),
        (_won("w", 1_000_000), "revenue", 1.0),  # a decade apart
        (_won("w", 10_000_000), "revenue", 1.0),  # capped
        (_won("w", None), "revenue", 1.0),  # unknown
        (_won("w", 100_000, contacts=3), "account_size", 0.0),
        (_won("w", 100_000, contacts=31), "account_size", 1.0),  # 8x
        (_won("w", 100_000, contacts=7), "account_size", 1 / 3),  # 2x
        (_won("w", 100_000, people=7), "stakeholders", 1.0),
        (_won("w", 100_000, people=3), "stakeholders", 0.2),
        (_won("w", 100_000, roles=3), "roles", 1 / 3),
        (_won("w", 100_000, cycle=39), "cycle", 0.0),  # still open at day 39
        (_won("w", 100_000, cycle=13), "cycle", 2 / 3),  # closed by a third of the age
        (_won("w", 100_000, team="west"), "team", 1.0),
        (_won("w", 100_000, team=None), "team", 1.0),
    ],
)
def test_distance_parts(won: sd.Deal, part: str, value: float) -> None:
    parts = sd.distance_parts(OPEN, won, OPEN.age_on(TODAY))

    assert parts[part] == pytest.approx(value, abs=1e-3)
    assert set(parts) == {"revenue", "account_size", "stakeholders", "roles", "cycle", "team"}


FAR = _won("far", 5_000_000, cycle=10, team="west", contacts=0, people=0, roles=0)


def test_nearest_first_and_the_unlike_left_out() -> None:
    won = [_won("w4", 200_000), _won("w1", 100_000), FAR, _won("w3", 80_000), _won("w2", 120_000)]
    found = sd.find_similar(OPEN, won, TODAY)

    assert not found.fallback and found.similar_found == 4
    assert [m.deal.id for m in found.matches] == ["w1", "w2", "w3", "w4"]
    assert found.matches[0].distance == 0.0


@pytest.mark.parametrize("near", [0, 1, 2])
def test_too_few_similar_falls_back_to_the_top_won_deals(near: int) -> None:
    won = [_won(f"n{i}", 100_000 + i) for i in range(near)]
    won += [
        _won(f"x{i}", 1_000 * (i + 1), team="west", contacts=40, people=9)
        for i in range(sd.FALLBACK_SIZE + 5)
    ]
    found = sd.find_similar(OPEN, won, TODAY)

    assert found.fallback and found.similar_found == near
    assert len(found.matches) == sd.FALLBACK_SIZE
    revenues = [m.deal.revenue or 0 for m in found.matches]
    assert revenues == sorted(revenues, reverse=True)  # the largest won deals


@pytest.mark.parametrize(
    ("deal", "days", "meetings"),
    [
        (OPEN, (0, 39), 2),
        (OPEN, (0, 8), 1),  # the weeks of 10-12 (1 meeting) and 10-19 (0) start before day 8
        (_won("w", 1, meetings=[2, 1, 1, 1, 1, 1]), (0, 39), 7),
        (_won("w", 1, meetings=[2, 1, 1, 1, 1, 1]), (7, 39), 5),
    ],
)
def test_counts_in_window(deal: sd.Deal, days: tuple[int, int], meetings: int) -> None:
    counts = sd.counts_in_window(deal, days)

    assert counts is not None and counts["meetings"] == meetings


def test_a_window_before_the_stored_weeks_is_not_counted() -> None:
    late = sd.Deal("late", "Late", CREATED, weekly=_weekly(CREATED + timedelta(weeks=3), [1]))

    assert sd.counts_in_window(late, (0, 39)) is None
    assert sd.window(200) == (200 - 91, 200)


def test_bands_and_the_kpis_that_lag_most() -> None:
    won = [
        _won("w1", 1, meetings=[1, 1, 1, 1, 0, 0]),
        _won("w2", 1, meetings=[1] * 6),
        _won("w3", 1, meetings=[2, 1, 1, 1, 1, 1]),
        _won("w4", 1, meetings=[2] * 6),
    ]
    matches = [sd.Match(deal, {}) for deal in won]
    result = sd.compare(OPEN, matches, TODAY)
    meetings = next(k for k in result["kpis"] if k["kpi"] == "meetings")

    assert result["window_days"] == [0, 39] and result["deals_compared"] == 4
    assert (meetings["yours"], meetings["p25"], meetings["median"], meetings["p75"]) == (2, 4, 6, 7)
    assert result["lagging_most"] == ["meetings"]  # 60 emails sent beat their 30
    assert sd.sentence(meetings, 39) == (
        "you have had 2 meetings by day 39; similar won deals had 4-7"
    )


@pytest.mark.parametrize(
    ("values", "share", "rank"),
    [([4, 6, 7, 12], 0.25, 4), ([4, 6, 7, 12], 0.5, 6), ([4, 6, 7, 12], 0.75, 7), ([3], 0.75, 3)],
)
def test_nearest_rank(values: list[int], share: float, rank: int) -> None:
    assert sd.nearest_rank(values, share) == rank


# --- `rapport deals similar` on a seeded history ---------------------------------------

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
WON = {  # id -> (revenue, owner, account, meetings in the first six weeks, cycle days)
    "w1": (100_000.0, "u1", "a1", [1, 1, 1, 1, 0, 0], 60),
    "w2": (120_000.0, "u1", "a1", [1] * 6, 60),
    "w3": (80_000.0, "u1", "a1", [2, 1, 1, 1, 1, 1], 60),
    "w4": (200_000.0, "u1", "a1", [2] * 6, 60),
    "w5": (5_000_000.0, "u3", "a2", [0] * 6, 10),
}


def _opportunity(
    deal_id: str,
    status: str,
    revenue: float,
    owner: str,
    account: str,
    created: date,
    closed: date | None,
) -> dict[str, Any]:
    return {
        "id": deal_id,
        "name": f"Deal {deal_id}",
        "account_id": account,
        "owner_id": owner,
        "status": status,
        "estimated_revenue": revenue,
        "actual_close_date": closed,
        "created_at": datetime(created.year, created.month, created.day, tzinfo=UTC),
    }


def _kpi(deal_id: str, weekly: list[dict[str, Any]], score: int) -> dict[str, Any]:
    return {
        "record_type": "opportunity",
        "record_id": deal_id,
        "weekly": weekly,
        "health_score": score,
        "health_state": 0,
        "computed_at": NOW,
    }


@pytest.fixture
def history(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.user(engine, "u3", "cleo@ours.example", "Cleo West", team="west")
    f.insert(engine, Account, {"id": "a1", "name": "Contoso"}, {"id": "a2", "name": "Tiny"})
    f.insert(
        engine,
        Contact,
        *({"id": f"c{i}", "full_name": f"P {i}", "account_id": "a1"} for i in range(3)),
    )
    created = date(2026, 3, 2)
    deals = [
        _opportunity("open", "open", 100_000.0, "u1", "a1", CREATED, None),
        _opportunity("open2", "open", 5.0, "u3", "a2", CREATED, None),
        _opportunity("lost", "lost", 100_000.0, "u1", "a1", created, date(2026, 5, 1)),
        _opportunity("unscored", "won", 100_000.0, "u1", "a1", created, date(2026, 5, 1)),
    ]
    deals += [
        _opportunity(d, "won", r, o, a, created, created + timedelta(days=cycle))
        for d, (r, o, a, _m, cycle) in WON.items()
    ]
    f.insert(engine, Opportunity, *deals)
    f.insert(
        engine,
        OpportunityStakeholder,
        *(
            {"opportunity_id": d, "contact_id": c, "role": role}
            for d in ("open", "w1", "w2", "w3", "w4", "lost")
            for c, role in (("c0", "buyer"), ("c1", "champion"))
        ),
    )
    kpis = [
        _kpi("open", _weekly(CREATED, [1, 0, 0, 1, 0, 0], emails=10), 40),
        _kpi("open2", _weekly(CREATED, [0]), 40),
        _kpi("lost", _weekly(created, [1] * 6), 20),
    ]
    kpis += [_kpi(d, _weekly(created, m), 80) for d, (_r, _o, _a, m, _c) in WON.items()]
    f.insert(engine, RelationshipKpi, *kpis)
    f.insert(
        engine,
        HealthSnapshot,
        *(
            {
                "record_type": "opportunity",
                "record_id": d,
                "day": created + timedelta(days=c),
                "health_score": 80,
                "health_state": 0,
                "closed_as": "won",
            }
            for d, (_r, _o, _a, _m, c) in WON.items()
        ),
    )
    return engine


def _similar(capsys: pytest.CaptureFixture[str], opp: str) -> dict[str, Any]:
    ran = run_cli(capsys, "deals", "similar", opp, "--now", NOW.isoformat(), "--json")
    assert ran.code == 0, ran.err
    payload: dict[str, Any] = json.loads(ran.out)
    return payload


def test_similar_won_deals_and_where_the_deal_lags(
    history: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = _similar(capsys, "opportunity:open")

    assert payload["notice"] == EMPLOYMENT_NOTICE and not payload["fallback"]
    assert payload["opportunity"]["age_days"] == 39
    assert (payload["opportunity"]["stakeholders"], payload["opportunity"]["roles"]) == (2, 2)
    assert payload["opportunity"]["account_contacts"] == 3
    assert [d["id"] for d in payload["deals"]] == ["w1", "w2", "w3", "w4"]
    assert payload["deals"][0]["parts"] == dict.fromkeys(
        ("revenue", "account_size", "stakeholders", "roles", "cycle", "team"), 0.0
    )
    assert payload["deals"][0]["closed_on"] == "2026-05-01"
    assert payload["comparison"]["lagging_most"] == ["meetings"]
    meetings = next(k for k in payload["comparison"]["kpis"] if k["kpi"] == "meetings")
    assert (meetings["yours"], meetings["p25"], meetings["p75"]) == (2, 4, 7)


def test_too_few_similar_deals_fall_back_and_say_so(
    history: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = _similar(capsys, "open2")

    assert payload["fallback"] and payload["similar_found"] == 1
    assert [d["id"] for d in payload["deals"]] == ["w5", "w4", "w2", "w1", "w3"]
    text = run_cli(capsys, "deals", "similar", "open2", "--now", NOW.isoformat())
    assert text.out.splitlines()[0] == EMPLOYMENT_NOTICE
    assert "Only 1 won deals are similar (fewer than 3)" in " ".join(text.out.split())


def test_text_names_the_lagging_kpi(history: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    ran = run_cli(capsys, "deals", "similar", "open", "--now", NOW.isoformat())

    assert ran.code == 0, ran.err
    assert "Lagging: you have had 2 meetings by day 39; similar won deals had 4-7" in ran.out


@pytest.mark.parametrize(
    ("opp", "message"),
    [
        ("nope", "OPP: no opportunity with id 'nope'"),
        ("w1", "OPP: 'w1' is won; expected an open one"),
    ],
)
def test_bad_opportunity_is_one_line(
    history: Engine, capsys: pytest.CaptureFixture[str], opp: str, message: str
) -> None:
    ran = run_cli(capsys, "deals", "similar", opp)

    assert ran.code == 2 and message in ran.err and "Traceback" not in ran.err
