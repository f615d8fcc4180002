"""The worker's scheduled What's New job: it fetches RAPPORT_NEWS_FEEDS and stores the
matches; a bad setting is this job's problem only (logged, nothing raised)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests import factories as f
from tests.news.test_news_cli import base  # noqa: F401 - the local feed server fixture
from tests.worker.service.test_jobs import FixedClock
from worker.service.jobs import Jobs
from worker.service.leases import ReplicaLeases
from worker.service.metrics import ServiceMetrics
from worker.settings import Settings


@pytest.fixture
async def jobs(engine: Engine, database_url: str) -> AsyncIterator[Jobs]:
    f.account(engine, "a1", "Contoso Pharmaceuticals")
    settings = Settings(database_url=database_url, tenant_id=None, client_id=None)
    clock = FixedClock(datetime.now(UTC))
    leases = ReplicaLeases(engine, "replica-a", timedelta(seconds=60), clock)
    yield Jobs(engine, settings, clock, leases, ServiceMetrics())


def _stored(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(sa.text("SELECT link FROM news_item")).scalars())


@pytest.fixture
def feeds(monkeypatch: pytest.MonkeyPatch, base: str) -> Iterator[str]:  # noqa: F811
    monkeypatch.setenv("RAPPORT_NEWS_FEEDS", f"{base}/wire")
    yield base


async def test_the_news_job_fetches_and_stores(jobs: Jobs, engine: Engine, feeds: str) -> None:
    await jobs.news()

    assert _stored(engine) == ["https://wire.example/1"]


async def test_a_bad_setting_is_logged_not_raised(
    jobs: Jobs, engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("RAPPORT_NEWS_FEEDS", "ftp://nope")
    with caplog.at_level(logging.WARNING):
        await jobs.news()

    assert _stored(engine) == [] and "news not fetched" in caplog.text
