"""The demo CRM: realistic, deterministic, and it tells its story once scored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from scoring.model import HealthState, Trend
from storage.directory import normalise_address
from storage.rapport_tables import RelationshipKpi
from storage.types import core_table
from tests.conftest import DATABASES, private_store
from worker.demo.crm import DemoCrm, DemoFacts, StoreNotEmptyError, build_demo_crm, seed_demo_crm
from worker.run.tick import run_once

pytestmark = pytest.mark.slow  # the demo CRM, seeded and scored

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
# Parties get their id from the database; every other column is the demo's own.
SNAPSHOT_TABLES = {
    "system_user": "id",
    "account": "id",
    "contact": "id",
    "lead": "id",
    "opportunity": "id",
    "opportunity_stakeholder": "opportunity_id, contact_id",
    "crm_activity": "id",
    "crm_activity_party": "activity_id, role, address, record_type, record_id",
}


@pytest.fixture(scope="module", params=DATABASES)
def scored_demo(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[tuple[Engine, DemoFacts]]:
    """The demo CRM seeded and scored once per database, for the tests that only read it."""
    directory = tmp_path_factory.mktemp("demo")
    with private_store(request.param, directory, sqlite_template) as engine:
        facts = seed_demo_crm(engine, now=NOW)
        run_once(engine, now=NOW)
        yield engine, facts


def _one(engine: Engine, query: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.text(query), params).one()


def _rows(engine: Engine, table: str, order_by: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text(f"SELECT * FROM {table} ORDER BY {order_by}"))
        return [
            {k: v for k, v in row.items() if k != "id" or table != "crm_activity_party"}
            for row in rows.mappings()
        ]


def _snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    return {table: _rows(engine, table, order) for table, order in SNAPSHOT_TABLES.items()}


def _empty_store(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in SNAPSHOT_TABLES:
            connection.execute(sa.text(f"DELETE FROM {table}"))


def test_silent_primary_contact_graded_worse_than_engaged_secondary_and_named(
    scored_demo: tuple[Engine, DemoFacts],
) -> None:
    engine, demo = scored_demo
    query = "SELECT health_score, health_state FROM contact WHERE id = :id"
    primary = _one(engine, query, id=demo.primary_contact_id)
    secondary = _one(engine, query, id=demo.secondary_contact_id)
    kpi = core_table(RelationshipKpi)
    with engine.connect() as connection:
        reasons = connection.execute(
            sa.select(kpi.c.reasons).where(
                kpi.c.record_type == "contact", kpi.c.record_id == demo.primary_contact_id
            )
        ).scalar_one()

    assert primary.health_state in (HealthState.FAIR, HealthState.POOR)
    assert secondary.health_state == HealthState.GOOD
    assert primary.health_score < secondary.health_score
    assert any(demo.primary_contact_name in reason for reason in reasons), reasons


def test_the_flagship_deal_is_at_risk_because_of_its_silent_decision_maker(
    scored_demo: tuple[Engine, DemoFacts],
) -> None:
    """v1 graded the $2.4M deal 93 Good (pooled with the engaged secondary contact)."""
    engine, demo = scored_demo
    kpi = core_table(RelationshipKpi)
    with engine.connect() as connection:
        deal = connection.execute(
            sa.select(kpi).where(
                kpi.c.record_type == "opportunity",
                kpi.c.record_id == demo.strategic_opportunity_id,
            )
        ).one()
    primary = _one(
        engine, "SELECT health_score FROM contact WHERE id = :id", id=demo.primary_contact_id
    )

    assert deal.health_state in (HealthState.FAIR, HealthState.POOR)
    assert deal.health_trend == Trend.DECLINING
    assert deal.weakest_contact_id == demo.primary_contact_id
    assert deal.weakest_contact_role == "decision maker"
    assert deal.weakest_contact_score == primary.health_score
    assert deal.reasons[0].startswith(
        f"{demo.primary_contact_name} (decision maker) has not answered 3 emails since"
    )
    assert deal.reasons[0].endswith("and skipped 2 of the last 3 meetings")


def test_people_in_no_crm_record_are_never_ingested(
    scored_demo: tuple[Engine, DemoFacts],
) -> None:
    engine, demo = scored_demo
    with engine.connect() as connection:
        typed = connection.execute(sa.text("SELECT address FROM crm_activity_party")).scalars()
        known = {
            (record_type, record_id)
            for table, record_type in (
                ("system_user", "system_user"),
                ("contact", "contact"),
                ("lead", "lead"),
            )
            for (record_id,) in connection.execute(sa.text(f"SELECT id FROM {table}"))
        }
        stored_parties = connection.execute(
            sa.text("SELECT record_type, record_id FROM interaction_party")
        ).all()
    assert set(demo.unknown_addresses) <= {normalise_address(a) for a in typed if a}

    assert {tuple(party) for party in stored_parties} <= known
    stored_text = repr(
        _rows(engine, "interaction", "key") + _rows(engine, "interaction_party", "interaction_key")
    ).lower()
    for address in demo.unknown_addresses:
        assert address not in stored_text


def test_same_seed_and_now_give_identical_rows(engine: Engine) -> None:
    seed_demo_crm(engine, now=NOW, seed=11)
    first = _snapshot(engine)
    _empty_store(engine)

    seed_demo_crm(engine, now=NOW, seed=11)

    assert _snapshot(engine) == first
    assert len(first["crm_activity"]) > 1000


def test_seeding_refuses_a_store_that_holds_crm_data(
    scored_demo: tuple[Engine, DemoFacts],
) -> None:
    engine, _ = scored_demo  # seeded once already

    with pytest.raises(StoreNotEmptyError, match="system_user"):
        seed_demo_crm(engine, now=NOW)


# Pure checks on the generated rows: no database needed.


@pytest.fixture(scope="module")
def crm() -> DemoCrm:
    return build_demo_crm(now=NOW)


def test_build_is_deterministic_per_seed(crm: DemoCrm) -> None:
    assert build_demo_crm(now=NOW).rows == crm.rows
    assert build_demo_crm(now=NOW, seed=8).rows["crm_activity"] != crm.rows["crm_activity"]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        build_demo_crm(now=datetime(2026, 11, 20))


def test_volumes_and_variety(crm: DemoCrm) -> None:
    rows, facts = crm.rows, crm.facts
    assert 8 <= facts.system_users <= 10 and facts.accounts == 25
    assert 100 <= facts.contacts <= 140 and facts.leads == 15 and facts.opportunities == 30
    assert {lead["status"] for lead in rows["lead"]} == {"open", "qualified", "disqualified"}
    assert {opp["status"] for opp in rows["opportunity"]} == {"open", "won", "lost"}
    assert all(o["actual_close_date"] for o in rows["opportunity"] if o["status"] != "open")
    assert any(contact["email2"] for contact in rows["contact"])
    activities = rows["crm_activity"]
    assert {a["kind"] for a in activities} == {"email", "appointment", "phone_call", "task"}
    assert {a["status"] for a in activities} == {"completed", "open", "cancelled"}
    assert all(a["start_at"] > NOW for a in activities if a["status"] == "open")
    assert min(a["start_at"] for a in activities) >= NOW - timedelta(days=366)
    assert any(a["opens"] for a in activities) and any(a["clicks"] for a in activities)
    addresses = [p["address"] for p in rows["crm_activity_party"] if p["address"]]
    assert any(a != a.strip() for a in addresses) and any(a != a.lower() for a in addresses)
    responses = {p["response"] for p in rows["crm_activity_party"]}
    assert {"accepted", "declined", "tentative", "none"} <= responses
    for table, table_rows in rows.items():
        # One executemany per table: every row must name the same columns.
        assert all(row.keys() == table_rows[0].keys() for row in table_rows), table


def _history_of(crm: DemoCrm, person_id: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(activity, party) for every completed activity naming the person, oldest first."""
    contact = next(c for c in crm.rows["contact"] if c["id"] == person_id)
    addresses = {contact["email"], contact["email2"]} - {None}
    activities = {a["id"]: a for a in crm.rows["crm_activity"] if a["status"] == "completed"}
    found = [
        (activities[p["activity_id"]], p)
        for p in crm.rows["crm_activity_party"]
        if p["activity_id"] in activities
        and (p["record_id"] == person_id or normalise_address(p["address"] or "") in addresses)
    ]
    return sorted(found, key=lambda pair: pair[0]["start_at"])


def test_scenario_primary_contact_went_silent(crm: DemoCrm) -> None:
    history = _history_of(crm, crm.facts.primary_contact_id)
    emails = [(a, p) for a, p in history if a["kind"] == "email"]
    meetings = [(a, p) for a, p in history if a["kind"] == "appointment"]
    silent_since = NOW - timedelta(days=35)

    assert [a["direction"] for a, _p in emails[-3:]] == ["outgoing"] * 3
    after = [(a, p) for a, p in history if a["start_at"] > silent_since]
    assert not [a for a, p in after if p["role"] in ("from", "organizer")]  # nothing from her
    assert "accepted" not in {p["response"] for _a, p in after}
    assert [p["response"] for _a, p in meetings[-2:]] == ["declined", "none"]
    assert len(history) > 40  # engaged for most of the year before that


def test_scenario_secondary_contact_stays_engaged(crm: DemoCrm) -> None:
    history = _history_of(crm, crm.facts.secondary_contact_id)
    recent = [(a, p) for a, p in history if a["start_at"] > NOW - timedelta(days=14)]

    assert any(a["kind"] == "email" and a["direction"] == "incoming" for a, _p in recent)
    assert any(a["kind"] == "phone_call" for a, _p in recent)
    assert any(p["response"] == "accepted" for a, p in recent if a["kind"] == "appointment")
