"""The worker's jobs on a real store: scoring after a round, singleton jobs, retention."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage import lease_store
from storage.engine import session_scope
from tests import factories as f
from worker.service.jobs import Jobs
from worker.service.leases import ReplicaLeases
from worker.service.metrics import ServiceMetrics
from worker.settings import Settings

NOW = f.NOW


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment

    async def sleep(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
async def jobs(engine: Engine, database_url: str) -> AsyncIterator[Jobs]:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz")
    f.email(engine, sender="ana@ours.example", to=["dana@contoso.example"], at=f.days_ago(2))
    settings = Settings(
        database_url=database_url, tenant_id=None, client_id=None, sync_interval_seconds=300
    )
    clock = FixedClock(NOW)
    leases = ReplicaLeases(engine, "replica-a", timedelta(seconds=60), clock)
    yield Jobs(engine, settings, clock, leases, ServiceMetrics())


def scoring_started(engine: Engine) -> datetime | None:
    with session_scope(engine) as session:
        return lease_store.last_job_run(session=session, job="scoring")[0]


async def test_a_sync_round_is_followed_by_scoring(jobs: Jobs, engine: Engine) -> None:
    await jobs.sync()
    assert jobs.scoring_task is not None
    await jobs.scoring_task

    with engine.connect() as connection:
        score = connection.execute(sa.text("SELECT health_updated_at FROM contact")).scalar()
    assert score is not None
    assert scoring_started(engine) == NOW
    assert jobs.metrics.value("rapport_scoring_runs_total", outcome="done") == 1
    assert jobs.metrics.value("rapport_sync_round_seconds_count") == 1


async def test_scoring_that_a_later_run_covers_is_skipped(jobs: Jobs, engine: Engine) -> None:
    await jobs.score(after=NOW)
    await jobs.score(after=NOW - timedelta(minutes=1))  # the first run started after this

    assert jobs.metrics.value("rapport_scoring_runs_total", outcome="done") == 1
    assert jobs.metrics.value("rapport_scoring_runs_total", outcome="skipped") == 1


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_scoring_runs_on_one_replica_at_a_time(jobs: Jobs, engine: Engine) -> None:
    other_replica = engine.connect()
    assert lease_store.try_advisory_lock(other_replica, "scoring")
    other_replica.commit()

    await jobs.scheduled_scoring()
    skipped = jobs.metrics.value("rapport_scoring_runs_total", outcome="skipped")
    lease_store.advisory_unlock(other_replica, "scoring")
    other_replica.close()
    await jobs.scheduled_scoring()

    assert skipped == 1
    assert jobs.metrics.value("rapport_scoring_runs_total", outcome="done") == 1


async def test_retention_runs_once_a_day(jobs: Jobs, engine: Engine) -> None:
    await jobs.retention()
    clock = jobs.clock
    assert isinstance(clock, FixedClock)
    clock.moment += timedelta(hours=6)
    await jobs.retention()  # ran today already: nothing to do

    with engine.connect() as connection:
        purges = connection.execute(
            sa.text("SELECT count(*) FROM audit_event WHERE action = 'retention_purged'")
        ).scalar()
    assert purges == 1


@pytest.mark.parametrize(("regrade_every", "rescored"), [("0", True), ("1d", False)])
async def test_scheduled_scoring_regrades_as_often_as_the_setting_says(
    jobs: Jobs, engine: Engine, database_url: str, regrade_every: str, rescored: bool
) -> None:
    """RAPPORT_REGRADE_EVERY reaches the worker's scoring: with 0 every run regrades the
    book; with a day, a run an hour later with nothing changed scores nothing."""
    settings = Settings(
        database_url=database_url,
        tenant_id=None,
        client_id=None,
        sync_interval_seconds=300,
        regrade_every=regrade_every,
    )
    clock = FixedClock(NOW)
    leases = ReplicaLeases(engine, "replica-a", timedelta(seconds=60), clock)
    worker = Jobs(engine, settings, clock, leases, ServiceMetrics())
    await worker.score(after=NOW)
    first = worker.metrics.value("rapport_records_scored_total")
    clock.moment = NOW + timedelta(hours=1)  # nothing changed meanwhile
    await worker.score(after=clock.now())

    assert first > 0
    assert worker.metrics.value("rapport_scoring_runs_total", outcome="done") == 2
    scored = worker.metrics.value("rapport_records_scored_total")
    assert scored == (2 * first if rescored else first)
