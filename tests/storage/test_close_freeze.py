"""A won or lost deal keeps its KPIs and health as at close, and its close is recorded."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.rapport_tables import HealthSnapshot, RelationshipKpi
from storage.types import core_table
from tests import factories as f
from worker.run.tick import run_once

KPI = core_table(RelationshipKpi)
SNAPSHOT = core_table(HealthSnapshot)


def _deal_with_history(engine: Engine) -> None:
    f.user(engine, "u1", "sam@contoso.com", "Sam Seller")
    f.account(engine, "a1", "Fabrikam", primary="c1")
    f.contact(engine, "c1", "dana@fabrikam.com", "Dana Ruiz", account_id="a1")
    f.opportunity(engine, "o1", "a1", "u1", "c1")
    for week in range(8):
        sent = f.days_ago(7 * week + 3)
        f.email(
            engine,
            sender="sam@contoso.com",
            to=["dana@fabrikam.com"],
            at=sent,
            owner="u1",
            conversation=f"t{week}",
        )
        f.email(
            engine,
            sender="dana@fabrikam.com",
            to=["sam@contoso.com"],
            at=sent + timedelta(hours=2),
            conversation=f"t{week}",
        )


def _kpi_row(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(KPI).where(KPI.c.record_type == "opportunity", KPI.c.record_id == "o1")
        ).one()
    return dict(row._mapping)


def _snapshots(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                sa.select(SNAPSHOT.c.day, SNAPSHOT.c.health_score, SNAPSHOT.c.closed_as)
                .where(SNAPSHOT.c.record_type == "opportunity")
                .order_by(SNAPSHOT.c.day)
            )
        ]


def _close(engine: Engine, status: str, on: date | None) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE opportunity SET status = :s, actual_close_date = :d WHERE id = 'o1'"),
            {"s": status, "d": on},
        )


def test_a_won_deal_keeps_its_kpis_and_health_and_its_close_is_recorded(engine: Engine) -> None:
    _deal_with_history(engine)
    run_once(engine, now=f.NOW)
    at_close = _kpi_row(engine)
    assert at_close["health_score"] is not None

    _close(engine, "won", f.NOW.date() + timedelta(days=1))
    # After the close the customer goes quiet; the deal must not be regraded for it.
    for days in (5, 12, 19):
        at = f.NOW + timedelta(days=days)
        f.email(
            engine,
            sender="sam@contoso.com",
            to=["dana@fabrikam.com"],
            at=at,
            owner="u1",
            conversation=f"after{days}",
        )
    later = f.NOW + timedelta(days=21)
    run_once(engine, now=later)
    run_once(engine, now=later + timedelta(days=1))

    assert _kpi_row(engine) == at_close
    assert _snapshots(engine) == [
        (f.NOW.date(), at_close["health_score"], None),
        (f.NOW.date() + timedelta(days=1), at_close["health_score"], "won"),
    ]


def test_a_deal_lost_on_a_day_it_was_scored_marks_that_days_snapshot(engine: Engine) -> None:
    _deal_with_history(engine)
    run_once(engine, now=f.NOW)
    score = _kpi_row(engine)["health_score"]

    _close(engine, "lost", None)
    run_once(engine, now=f.NOW + timedelta(hours=2))

    assert _snapshots(engine) == [(f.NOW.date(), score, "lost")]
