"""A small book of CRM records with stored health, for the insights views and chart.

Health goes straight into relationship_kpi (as a scoring run writes it), so
each test knows every record's score, state and trend without scoring them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from storage.crm_tables import Account, Contact, Lead, Opportunity
from storage.rapport_tables import RelationshipKpi
from tests import factories as f

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
GOOD, FAIR, POOR, COMPUTING, NOT_ENOUGH = 0, 1, 2, 5, 3
IMPROVING, STEADY, DECLINING = 0, 1, 2


def _days(n: int) -> date:
    return TODAY + timedelta(days=n)


# id -> (owner, status, revenue, close date)
DEALS: dict[str, tuple[str, str, float | None, date | None]] = {
    "o1": ("u1", "open", 500_000.0, _days(30)),
    "o2": ("u1", "open", 100_000.0, _days(10)),
    "o3": ("u1", "won", 90_000.0, _days(-40)),
    "o4": ("u2", "open", None, None),
    "o5": ("u1", "open", 50_000.0, _days(-5)),
    "o6": ("u1", "open", None, _days(60)),
    "o7": ("u1", "open", 20_000.0, _days(45)),
}
# (type, id) -> (score, state, trend, days since last activity or None, first reason)
HEALTH: dict[tuple[str, str], tuple[int | None, int, int | None, int | None, str]] = {
    ("opportunity", "o1"): (40, FAIR, DECLINING, 20, "Dana has not answered 3 emails"),
    ("opportunity", "o2"): (20, POOR, STEADY, 2, "no meeting in 60 days"),
    ("opportunity", "o3"): (90, GOOD, STEADY, 50, "won"),
    ("opportunity", "o4"): (80, GOOD, IMPROVING, None, "new deal"),
    ("opportunity", "o5"): (45, FAIR, STEADY, 8, "single-threaded"),
    ("opportunity", "o6"): (None, COMPUTING, None, None, "computing"),
    ("opportunity", "o7"): (None, NOT_ENOUGH, None, None, "not enough info"),
    ("contact", "c1"): (70, GOOD, STEADY, 3, "replies within a day"),
    ("contact", "c2"): (30, POOR, IMPROVING, 30, "8 emails unanswered"),
    ("contact", "c3"): (55, FAIR, DECLINING, 12, "quieter than usual"),
    ("lead", "l1"): (35, FAIR, DECLINING, 9, "no reply since the demo"),
    ("lead", "l2"): (10, POOR, STEADY, 90, "disqualified"),
    ("account", "a1"): (60, FAIR, STEADY, 3, "two of five contacts engaged"),
}


def _kpi(record: tuple[str, str], health: tuple[Any, ...]) -> dict[str, Any]:
    score, state, trend, quiet, reason = health
    weeks = [NOW - timedelta(weeks=12 - w, days=NOW.weekday()) for w in range(13)]
    return {
        "record_type": record[0],
        "record_id": record[1],
        "health_score": score,
        "health_state": state,
        "health_trend": trend,
        "last_activity_at": None if quiet is None else NOW - timedelta(days=quiet),
        "last_activity_kind": None if quiet is None else "email",
        "response_rate_by_them": 0.5,
        "reasons": [reason, "a second reason"],
        # 1 email sent and 2 received every week; 4 of the 13 weeks (Mondays 10-26 to
        # 11-16) start in the 30 days before NOW.
        "weekly": [
            {
                "week_start": w.date().isoformat(),
                "emails_sent": 1,
                "emails_received": 2,
                "meetings": 0,
                "phone_calls": 0,
            }
            for w in weeks
        ],
        "computed_at": NOW,
    }


def seed_book(engine: Engine) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.user(engine, "u2", "ben@ours.example", "Ben Seller")
    f.user(engine, "u3", "cleo@ours.example", "Cleo West", team="west")
    f.insert(
        engine,
        Account,
        {"id": "a1", "name": "Contoso", "owner_id": "u1", "primary_contact_id": "c1"},
        {"id": "a2", "name": "Fabrikam", "owner_id": "u2", "primary_contact_id": None},
    )
    f.insert(
        engine,
        Contact,
        *(
            {"id": cid, "full_name": name, "email": f"{cid}@customer.example", "account_id": acc}
            for cid, name, acc in (
                ("c1", "Dana Ruiz", "a1"),
                ("c2", "Eli Park", "a1"),
                ("c3", "Fay Lind", "a2"),
                ("c4", "Gus Moor", None),
            )
        ),
    )
    f.insert(
        engine,
        Lead,
        *(
            {
                "id": lid,
                "full_name": name,
                "email": f"{lid}@prospect.example",
                "owner_id": owner,
                "status": status,
            }
            for lid, name, owner, status in (
                ("l1", "Hal Brook", "u1", "open"),
                ("l2", "Ida Reyes", "u1", "disqualified"),
                ("l3", "Jo Quinn", "u2", "open"),
            )
        ),
    )
    f.insert(
        engine,
        Opportunity,
        *(
            {
                "id": oid,
                "name": f"Deal {oid}",
                "account_id": "a1",
                "owner_id": owner,
                "customer_contact_id": "c1",
                "status": status,
                "estimated_revenue": revenue,
                "estimated_close_date": close,
            }
            for oid, (owner, status, revenue, close) in DEALS.items()
        ),
    )
    f.insert(engine, RelationshipKpi, *(_kpi(record, h) for record, h in HEALTH.items()))
