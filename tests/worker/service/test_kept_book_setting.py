"""RAPPORT_KEEP_BOOK: the worker keeps the book between its scoring runs (worker.run.book_cache)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from tests import factories as f
from tests.worker.service.test_jobs import NOW, FixedClock
from worker.failures import settings_error_message
from worker.service.jobs import Jobs
from worker.service.leases import ReplicaLeases
from worker.service.metrics import ServiceMetrics
from worker.settings import Settings


def _worker(engine: Engine, database_url: str, keep_book: bool = True) -> tuple[Jobs, FixedClock]:
    values = Settings(
        database_url=database_url, tenant_id=None, client_id=None, keep_book=keep_book
    )
    clock = FixedClock(NOW)
    leases = ReplicaLeases(engine, "replica-a", timedelta(seconds=60), clock)
    return Jobs(engine, values, clock, leases, ServiceMetrics()), clock


async def test_the_worker_scores_from_the_book_it_kept(engine: Engine, database_url: str) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz")
    f.email(engine, sender="ana@ours.example", to=["dana@contoso.example"], at=f.days_ago(2))
    worker, clock = _worker(engine, database_url)
    await worker.score(after=NOW)
    f.email(engine, sender="dana@contoso.example", to=["ana@ours.example"], at=f.days_ago(1))
    clock.moment = NOW + timedelta(hours=1)

    await worker.score(after=clock.now())

    assert worker.book is not None
    if engine.dialect.name == "postgresql":
        assert worker.book.last_read.startswith("patched") and worker.book.columns is not None
    else:  # no row versions: read whole, nothing kept
        assert worker.book.last_read == "whole" and worker.book.columns is None


async def test_the_worker_keeps_no_book_when_told_not_to(engine: Engine, database_url: str) -> None:
    worker, _clock = _worker(engine, database_url, keep_book=False)
    assert worker.book is None


def test_a_bad_value_names_the_setting() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(keep_book="sometimes")
    message = settings_error_message(raised.value)
    assert message.startswith("invalid configuration: RAPPORT_KEEP_BOOK='sometimes': ")
    assert "\n" not in message
