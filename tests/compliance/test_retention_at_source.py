"""Retention at the source: a run after a purge does not re-create what the purge removed."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance import purge_retention
from tests import factories as f
from tests.compliance.scenario import ANA, DANA, NOW
from worker.run.tick import run_once


def _crm_keys(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.text("SELECT key FROM interaction")).scalars())


def _seed(engine: Engine) -> None:
    f.user(engine, ANA.record_id, ANA.addresses[0], ANA.name)
    f.contact(engine, DANA.record_id, DANA.addresses[0], DANA.name)
    for days, activity in ((800, "ancient"), (731, "just-past"), (40, "last-month"), (5, "recent")):
        f.email(
            engine,
            sender=ANA.addresses[0],
            to=[DANA.addresses[0]],
            at=f.days_ago(days),
            activity_id=activity,
        )


def test_crm_activities_older_than_the_window_are_not_taken_in(engine: Engine) -> None:
    _seed(engine)

    summary = run_once(engine, now=NOW)

    assert _crm_keys(engine) == {"crm:last-month", "crm:recent"}
    assert summary.ingest.beyond_retention == 2


def test_a_run_after_a_purge_does_not_bring_the_interactions_back(engine: Engine) -> None:
    _seed(engine)
    run_once(engine, now=NOW)
    purged = purge_retention(engine, now=NOW, interaction_days=30)
    assert purged.interactions_deleted == 1

    run_once(engine, now=NOW, retention_days=30)
    run_once(engine, now=NOW, retention_days=30)

    assert _crm_keys(engine) == {"crm:recent"}


def test_a_longer_window_takes_older_activities_in_again(engine: Engine) -> None:
    _seed(engine)
    run_once(engine, now=NOW, retention_days=30)

    run_once(engine, now=NOW, retention_days=1000)

    assert _crm_keys(engine) == {"crm:ancient", "crm:just-past", "crm:last-month", "crm:recent"}
