"""Scoring's RecordHealth -> KPI column values: encoded once, shared where equal, exact."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from scoring.model import (
    Direction,
    Factor,
    HealthState,
    Kind,
    Kpis,
    RecordHealth,
    RecordRef,
    RecordScope,
    RecordType,
    StakeholderRole,
    Trend,
    WeekCounts,
)
from storage.kpi_rows import JsonColumn
from storage.writeback import write_back
from tests import factories as f
from tests.scoring import factories as s
from worker.run import results
from worker.run.results import to_result

ODD = 'said "no"\tthen\\left\nü €'
WEEK = s.NOW - timedelta(days=s.NOW.weekday(), hours=12)


def _weeks(*emails: int) -> tuple[WeekCounts, ...]:
    return tuple(
        WeekCounts(WEEK - timedelta(weeks=len(emails) - n), emails_sent=sent, meetings=n % 2)
        for n, sent in enumerate(emails)
    )


def _health(record_id: str = "c1", **kpis: Any) -> RecordHealth:
    return RecordHealth(
        record=RecordRef(RecordType.CONTACT, record_id),
        score=None,
        state=HealthState.NOT_ENOUGH_INFO,
        trend=Trend.NOT_ENOUGH_INFO,
        kpis=Kpis(**kpis),
        reasons=(ODD,),
    )


def _columns_as_before(health: RecordHealth) -> dict[str, Any]:
    """The column values as write-back built them before they were encoded once."""
    k = health.kpis
    return {
        **{name: getattr(k, name) for name in Kpis.__dataclass_fields__},
        "weekly": [
            {
                "week_start": w.week_start.date().isoformat(),
                "emails_sent": w.emails_sent,
                "emails_received": w.emails_received,
                "meetings": w.meetings,
                "phone_calls": w.phone_calls,
            }
            for w in k.weekly
        ],
        "most_contacted": [
            {"system_user_id": user, "interactions": count} for user, count in k.most_contacted
        ],
        "health_score": health.score,
        "health_state": None if health.state is None else int(health.state),
        "health_trend": int(health.trend),
        "factors": [
            {
                "name": f.name,
                "value": round(f.value, 4),
                "weight": f.weight,
                "points": round(f.points, 2),
                "detail": f.detail,
            }
            for f in health.factors
        ],
        "reasons": list(health.reasons),
        "weakest_contact_id": None if health.weakest is None else health.weakest.person.id,
        "weakest_contact_role": None if health.weakest is None else str(health.weakest.role),
        "weakest_contact_score": None if health.weakest is None else health.weakest.score,
        "weakest_contact_since": None if health.weakest is None else health.weakest.since,
    }


def _assert_as_before(health: RecordHealth) -> None:
    expected = _columns_as_before(health)
    values = to_result(health, show_health=True).kpi._asdict()
    assert values.keys() == expected.keys()
    for name, value in values.items():
        if isinstance(value, JsonColumn):
            assert value.text == msgspec.json.encode(expected[name]).decode(), name
            assert msgspec.json.encode(value.value) == msgspec.json.encode(expected[name]), name
        else:
            assert value == expected[name] and type(value) is type(expected[name]), name


def test_scored_records_give_the_same_columns_as_before() -> None:
    busy = s.health_of(s.two_way_history())
    assert busy.factors and busy.kpis.most_contacted
    quiet = s.health_of([s.email(s.days_ago(3), contacts=(s.DANA,))])
    deal = s.health_of(
        s.two_way_history(),
        RecordScope(
            s.DEAL,
            "Deal",
            frozenset({s.DANA}),
            roles=((s.DANA, StakeholderRole.DECISION_MAKER),),
        ),
    )
    assert deal.weakest is not None
    for health in (busy, quiet, s.health_of([]), deal):
        _assert_as_before(health)


def test_every_kind_of_value_gives_the_same_columns_as_before() -> None:
    health = replace(
        _health(
            avg_first_response_by_us_hours=1e-05,
            response_rate_by_them=0.30000000000000004,
            last_activity_at=s.NOW,
            last_activity_kind=Kind.MEETING,
            last_activity_direction=Direction.OUTBOUND,
            weekly=_weeks(0, 3, 1),
            most_contacted=((ODD, 3), ("u2", 1)),
        ),
        score=64,
        state=HealthState.GOOD,
        factors=(Factor("recency", 0.123456, 0.35, 4.3219, ODD),),
        reasons=(ODD, "ünï"),
    )
    _assert_as_before(health)
    _assert_as_before(replace(health, state=None))


def test_records_with_the_same_timeline_share_one_encoding() -> None:
    weekly = _weeks(1, 0, 2)
    first = to_result(_health("c1", weekly=weekly), show_health=True).kpi.weekly
    second = to_result(_health("c2", weekly=weekly), show_health=True).kpi.weekly
    assert second is first


def test_a_different_timeline_is_never_given_a_cached_encoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(results, "TIMELINES_CACHED", 2)
    monkeypatch.setattr(results, "WEEKS_CACHED", 3)
    timelines = [_weeks(n, n + 1, 0) for n in range(10)]
    for _round in range(2):  # the second round after the caches were emptied
        for weekly in timelines:
            health = _health(weekly=weekly)
            _assert_as_before(health)
    # Equal values in new objects: the same text, built again.
    again = _weeks(3, 4, 0)
    assert to_result(_health(weekly=again), show_health=True).kpi.weekly.text == (
        to_result(_health(weekly=timelines[3]), show_health=True).kpi.weekly.text
    )


def _weekly(engine: Engine, record_id: str) -> Any:
    with engine.connect() as connection:
        query = sa.text("SELECT weekly FROM relationship_kpi WHERE record_id = :id")
        stored = connection.execute(query, {"id": record_id}).scalar()
    return msgspec.json.decode(stored) if isinstance(stored, str) else stored


def test_a_changed_timeline_is_written_and_an_unchanged_run_writes_nothing(
    engine: Engine,
) -> None:
    shared = _weeks(1, 0, 2)
    healths = [_health("c1", weekly=shared), _health("c2", weekly=shared)]
    first = write_back(engine, [to_result(h, show_health=True) for h in healths], now=f.NOW)
    again = write_back(engine, [to_result(h, show_health=True) for h in healths], now=f.NOW)
    healths[1] = _health("c2", weekly=_weeks(1, 0, 3))
    changed = write_back(engine, [to_result(h, show_health=True) for h in healths], now=f.NOW)

    assert (first.kpis_written, again.kpis_written, again.unchanged) == (2, 0, 2)
    assert (changed.kpis_written, changed.unchanged) == (1, 1)
    assert _weekly(engine, "c1") == _columns_as_before(healths[0])["weekly"]
    assert _weekly(engine, "c2") == _columns_as_before(healths[1])["weekly"]
    assert [week["emails_sent"] for week in _weekly(engine, "c2")] == [1, 0, 3]


def test_results_made_many_at_once_are_each_records_own() -> None:
    """to_results rounds the factors of many records together: each record still gets
    its own factors, rounded as round() rounds them, whatever its neighbours hold."""
    factors = (
        Factor("recency", 0.03125, 0.35, 12.345, ODD),  # exactly halfway: round() keeps even
        Factor("frequency", 2.675, 0.2, -0.004999, "f"),
        Factor("engagement", float("nan"), 0.3, float("inf"), "e"),
        Factor("activity_mix", 1e300, 0.15, 5e-324, "m"),
    )
    healths = [
        replace(_health(f"c{n}", weekly=_weeks(n, 1)), score=n, factors=factors[: n % 5])
        for n in range(2 * results.RESULTS_AT_ONCE + 3)
    ]
    together = list(results.to_results(iter(healths), show_health=True))
    one_by_one = [to_result(health, show_health=True) for health in healths]
    assert [r.record_id for r in together] == [h.record.id for h in healths]
    assert [r.kpi.factors.text for r in together] == [
        msgspec.json.encode(_columns_as_before(h)["factors"]).decode() for h in healths
    ]
    assert [(r.record_id, r.health, r.kpi) for r in together] == [
        (r.record_id, r.health, r.kpi) for r in one_by_one
    ]


@pytest.mark.parametrize("digits", [2, 4])
def test_factor_numbers_are_rounded_as_round_rounds_them(digits: int) -> None:
    """The batch rounding gives round()'s float bit for bit, near halves and far out too."""
    rng = random.Random(21)
    values = [rng.random() for _ in range(20_000)] + [rng.uniform(-1e3, 1e3) for _ in range(5_000)]
    values += [n / 32 for n in range(-64, 64)] + [n / 2 / 10**digits for n in range(-999, 999)]
    values += [0.0, -0.0, -1e-5, 2.675, 1.005, 0.125, 1e9, 1e300, -1e300, 5e-324]
    values += [float("nan"), float("inf"), float("-inf")]
    expected = [round(value, digits) for value in values]
    assert [repr(v) for v in results._rounded(values, digits)] == [repr(v) for v in expected]
