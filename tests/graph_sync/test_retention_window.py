"""The Exchange backfill never reads further back than interactions are kept."""

from __future__ import annotations

import datetime as dt

from compliance import purge_retention
from tests.graph_sync.conftest import NOW, Exchange

WINDOW_DAYS = 25  # the standard mail runs from 6 to 8 May; NOW is 1 June
CUTOFF = NOW - dt.timedelta(days=WINDOW_DAYS)


def _occurred(exchange: Exchange) -> list[dt.datetime]:
    return [row["occurred_at"] for row in exchange.rows("interaction")]


async def test_the_backfill_is_clamped_to_the_retention_window(exchange: Exchange) -> None:
    await exchange.tick(retention_interaction_days=WINDOW_DAYS, backfill_days=365)

    occurred = _occurred(exchange)
    assert occurred and min(occurred) >= CUTOFF
    assert len(occurred) < 27  # the full mailbox holds 24 messages and 3 meetings


async def test_a_rebaseline_after_a_purge_does_not_bring_mail_back(exchange: Exchange) -> None:
    await exchange.tick()
    assert len(_occurred(exchange)) == 27
    purge_retention(exchange.engine, now=NOW, interaction_days=WINDOW_DAYS)
    kept = sorted(_occurred(exchange))

    exchange.forget_sync()  # an expired delta token re-baselines every folder
    await exchange.tick(retention_interaction_days=WINDOW_DAYS)

    assert sorted(_occurred(exchange)) == kept and min(kept) >= CUTOFF
