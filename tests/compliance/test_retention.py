"""Retention: interactions past the window go with their parties; old daily history thins."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance import RetentionWindowError, list_audit, purge_retention
from storage.crm_ingest import ingest_crm_activities
from storage.rapport_tables import HealthSnapshot
from storage.sync_tables import InteractionSighting
from storage.types import core_table
from tests import factories as f
from tests.compliance.scenario import ANA, DANA, NOW


def _keys(engine: Engine, table: str, column: str) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.text(f"SELECT {column} FROM {table}")).scalars())


def _days(engine: Engine) -> list[date]:
    snapshots = core_table(HealthSnapshot)
    with engine.connect() as connection:
        return sorted(connection.execute(sa.select(snapshots.c.day)).scalars())


@pytest.fixture
def aged(engine: Engine) -> Engine:
    f.user(engine, ANA.record_id, ANA.addresses[0], ANA.name)
    f.contact(engine, DANA.record_id, DANA.addresses[0], DANA.name)
    for days, activity in (
        (800, "ancient"),
        (731, "just-past"),
        (729, "just-inside"),
        (5, "recent"),
    ):
        f.email(
            engine,
            sender=ANA.addresses[0],
            to=[DANA.addresses[0]],
            at=f.days_ago(days),
            activity_id=activity,
        )
    ingest_crm_activities(engine)
    f.insert(
        engine,
        InteractionSighting,
        *(
            {"mailbox_id": "graph-1", "item_id": k, "interaction_key": k, "folder_id": "inbox"}
            for k in ("crm:ancient", "crm:recent")
        ),
    )
    f.insert(
        engine,
        HealthSnapshot,
        *(
            {
                "record_type": "contact",
                "record_id": DANA.record_id,
                "day": NOW.date() - timedelta(days=back),
                "health_score": 50 + back % 7,
                "health_state": 1,
                "health_trend": 1,
            }
            for back in range(200)
        ),
    )
    return engine


def test_interactions_past_the_window_go_with_their_parties(aged: Engine) -> None:
    report = purge_retention(aged, now=NOW)

    assert _keys(aged, "interaction", "key") == {"crm:just-inside", "crm:recent"}
    assert _keys(aged, "interaction_party", "interaction_key") == {"crm:just-inside", "crm:recent"}
    assert (report.interactions_deleted, report.interaction_parties_deleted) == (2, 4)
    assert _keys(aged, "interaction_sighting", "interaction_key") == {"crm:recent"}
    assert report.sightings_deleted == 1


def test_daily_history_older_than_90_days_keeps_the_last_day_of_each_week(aged: Engine) -> None:
    cutoff = NOW.date() - timedelta(days=90)
    old_weeks = {
        (NOW.date() - timedelta(days=back)).isocalendar()[:2]
        for back in range(200)
        if NOW.date() - timedelta(days=back) < cutoff
    }

    report = purge_retention(aged, now=NOW)

    days = _days(aged)
    recent = [day for day in days if day >= cutoff]
    old = [day for day in days if day < cutoff]
    assert len(recent) == 91  # every day inside the window is untouched
    assert len(old) == len(old_weeks)
    assert {day.isocalendar()[:2] for day in old} == old_weeks
    # The kept day is the last one of its week that is older than the cutoff.
    assert all(day.isoweekday() == 7 or day + timedelta(days=1) == cutoff for day in old)
    assert report.snapshots_deleted == 200 - 91 - len(old_weeks)


def test_a_second_purge_removes_nothing_and_both_are_audited(aged: Engine) -> None:
    first = purge_retention(aged, now=NOW)
    second = purge_retention(aged, now=NOW)

    assert any(first.counts().values())
    assert not any(second.counts().values())
    purges = [e for e in list_audit(aged) if e["action"] == "retention_purged"]
    assert [e["details"]["counts"] for e in purges] == [first.counts(), second.counts()]
    assert purges[0]["command"] == "retention purge"


def test_windows_are_configurable_and_validated(aged: Engine) -> None:
    report = purge_retention(aged, now=NOW, interaction_days=30, snapshot_daily_days=400)

    assert _keys(aged, "interaction", "key") == {"crm:recent"}
    assert report.snapshots_deleted == 0
    with pytest.raises(RetentionWindowError, match="interaction_days: 0 is not allowed"):
        purge_retention(aged, now=NOW, interaction_days=0)
