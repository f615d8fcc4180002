"""Planner statistics for the interaction tables are refreshed after a large change."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.planner_statistics import is_stale, refresh_interaction_statistics
from tests import factories as f
from worker.run.tick import run_once


@pytest.mark.parametrize(
    ("live", "changed", "never_analyzed", "stale"),
    [
        (1_000_000, 100_001, False, True),  # more than a tenth changed
        (1_000_000, 99_999, False, False),
        (0, 60, False, True),  # a first load into tables analyzed while empty
        (100, 40, False, False),  # a handful of rows: autovacuum will do
        (100, 0, True, True),  # never analyzed at all
        (0, 0, True, False),  # nothing there to analyze
    ],
)
def test_stale_by_autovacuums_own_rule(
    live: int, changed: int, never_analyzed: bool, stale: bool
) -> None:
    assert is_stale(live, changed, never_analyzed) is stale


def _analyzed_at(engine: Engine) -> object:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'interaction'")
        ).scalar_one()


def test_a_large_ingest_is_analyzed_before_scoring_reads_it(engine: Engine) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz", "a1")
    for day in range(80):
        f.email(
            engine, sender="ana@ours.example", to=["dana@contoso.example"], at=f.days_ago(day + 1)
        )
    before = _analyzed_at(engine) if engine.dialect.name == "postgresql" else None

    run_once(engine, now=f.days_ago(0))

    if engine.dialect.name == "postgresql":
        after = _analyzed_at(engine)
        assert after is not None and after != before
    else:
        assert refresh_interaction_statistics(engine, changed_rows=80) == ()
