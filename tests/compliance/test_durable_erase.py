"""Durable erasure: the CRM still holds the subject, and the next runs do not bring them back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance import erase_subject, export_subject, list_audit
from compliance.suppression import release_subject
from storage.crm_tables import Contact
from storage.rapport_tables import HealthSnapshot, RelationshipKpi
from storage.types import core_table
from tests import factories as f
from tests.compliance.scan import occurrences
from tests.compliance.scenario import ACCOUNT_ID, ANA, BO, DANA, LEE, NOW, OPPORTUNITY_ID
from tests.compliance.test_erase import RAPPORT_SECTIONS_AFTER_ERASE
from worker.run.tick import run_once

NEW_DANA = "contact-dana-returns-0009"


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(sql), params))


def _health(engine: Engine, table: str, record_id: str) -> tuple[Any, ...]:
    [row] = _rows(
        engine,
        f"SELECT health_score, health_state, health_trend, health_updated_at FROM {table} "
        "WHERE id = :id",
        id=record_id,
    )
    return tuple(row)


def _scored(engine: Engine, record_id: str) -> bool:
    kpis = _rows(engine, "SELECT 1 FROM relationship_kpi WHERE record_id = :id", id=record_id)
    history = _rows(engine, "SELECT 1 FROM health_snapshot WHERE record_id = :id", id=record_id)
    return bool(kpis or history)


def test_runs_after_an_erasure_do_not_bring_the_subject_back(scored: Engine) -> None:
    erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)

    run_once(scored, now=NOW)
    run_once(scored, now=NOW + timedelta(days=1))

    assert occurrences(scored, DANA.needles) == []
    assert not _scored(scored, DANA.record_id)
    assert _health(scored, "contact", DANA.record_id) == (None, None, None, None)


def test_an_export_after_erasure_and_a_run_is_empty(scored: Engine) -> None:
    erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)
    run_once(scored, now=NOW + timedelta(days=1))

    export = export_subject(scored, DANA.addresses[0], now=NOW)

    assert not export.holds_data
    assert all(export.sections[name] == [] for name in RAPPORT_SECTIONS_AFTER_ERASE)
    [record] = export.sections["records"]  # the CRM's own record, with no health of ours
    assert record["health_score"] is None and record["health_state"] is None


def test_other_people_keep_what_they_shared_with_the_subject(scored: Engine) -> None:
    erase_subject(scored, DANA.ref, now=NOW, dry_run=False)

    run_once(scored, now=NOW)

    # The shared email and meeting stay, with Lee and without Dana; the email
    # logged regarding Dana stays without the link.
    shared = _rows(
        scored,
        "SELECT i.key, i.regarding_id FROM interaction i JOIN interaction_party p "
        "ON p.interaction_key = i.key WHERE p.record_id = :lee AND i.source = 'crm'",
        lee=LEE.record_id,
    )
    assert len(shared) == 5 * 2 + 3 and all(regarding is None for _, regarding in shared)
    assert _scored(scored, LEE.record_id) and _scored(scored, ACCOUNT_ID)
    assert _health(scored, "contact", LEE.record_id)[0] is not None


def test_an_erased_address_on_a_new_crm_record_stays_suppressed(scored: Engine) -> None:
    erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)
    # The CRM deletes her record, then someone re-creates her under a new id.
    with scored.begin() as connection:
        connection.execute(sa.text("DELETE FROM contact WHERE id = :id"), {"id": DANA.record_id})
    f.insert(scored, Contact, {"id": NEW_DANA, "full_name": DANA.name, "email": DANA.addresses[1]})
    f.email(scored, sender=ANA.addresses[0], to=[DANA.addresses[1]], at=f.days_ago(1))

    run_once(scored, now=NOW)

    assert not _scored(scored, NEW_DANA)
    assert _health(scored, "contact", NEW_DANA) == (None, None, None, None)
    assert occurrences(scored, (*DANA.needles, NEW_DANA)) == []


def test_an_erased_colleague_stays_out_of_other_records(scored: Engine) -> None:
    erase_subject(scored, ANA.addresses[0], now=NOW, dry_run=False)

    run_once(scored, now=NOW)

    assert occurrences(scored, ANA.needles) == []
    # Her customers keep their history and their scores.
    assert _scored(scored, DANA.record_id) and _scored(scored, LEE.record_id)
    assert _scored(scored, OPPORTUNITY_ID)
    most_contacted = _rows(
        scored,
        "SELECT most_contacted FROM relationship_kpi WHERE record_id = :id",
        id=LEE.record_id,
    )
    assert BO.record_id in str(most_contacted)


def test_an_erased_opportunity_is_not_scored_again(scored: Engine) -> None:
    erase_subject(scored, f"opportunity:{OPPORTUNITY_ID}", now=NOW, dry_run=False)

    run_once(scored, now=NOW)

    assert not _scored(scored, OPPORTUNITY_ID)
    assert _health(scored, "opportunity", OPPORTUNITY_ID) == (None, None, None, None)
    assert occurrences(scored, (OPPORTUNITY_ID,)) == []


def test_the_suppression_list_holds_tokens_only(scored: Engine) -> None:
    planned = erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=True)
    assert _rows(scored, "SELECT token FROM erased_subject") == []

    done = erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)

    # Her two addresses and her record reference.
    assert planned.counts["erased_subject"] == done.counts["erased_subject"] == 3
    tokens = [token for (token,) in _rows(scored, "SELECT token FROM erased_subject")]
    assert len(tokens) == 3 and all(t.startswith("hmac-sha256:") for t in tokens)
    again = erase_subject(scored, DANA.ref, now=NOW, dry_run=False)
    assert again.counts["erased_subject"] == 0 and not again.removed_anything


def test_a_released_subject_is_scored_again(scored: Engine) -> None:
    erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)
    run_once(scored, now=NOW)

    report = release_subject(scored, DANA.addresses[1].upper(), now=NOW)
    run_once(scored, now=NOW)

    assert report.released == 3
    assert _rows(scored, "SELECT token FROM erased_subject") == []
    assert _scored(scored, DANA.record_id)
    assert _health(scored, "contact", DANA.record_id)[0] is not None
    released = list_audit(scored)[-1]
    assert (released["command"], released["action"]) == ("erase --release", "subject_released")
    assert released["subject"] == report.subject_token and released["details"] == {"released": 3}


def test_what_a_run_in_flight_writes_for_a_subject_erased_meanwhile_goes_again(
    scored: Engine,
) -> None:
    kpi, snapshot = core_table(RelationshipKpi), core_table(HealthSnapshot)
    with scored.connect() as connection:
        [late_kpi] = (
            connection.execute(sa.select(kpi).where(kpi.c.record_id == DANA.record_id))
            .mappings()
            .all()
        )
        late_history = (
            connection.execute(sa.select(snapshot).where(snapshot.c.record_id == DANA.record_id))
            .mappings()
            .all()
        )
        contact = core_table(Contact)
        [late_health] = connection.execute(
            sa.select(
                contact.c.health_score,
                contact.c.health_state,
                contact.c.health_trend,
                contact.c.health_updated_at,
            ).where(contact.c.id == DANA.record_id)
        ).all()
    erase_subject(scored, DANA.addresses[0], now=NOW, dry_run=False)
    # The run that read the CRM before the erase now writes what it computed.
    with scored.begin() as connection:
        connection.execute(sa.insert(kpi).values(dict(late_kpi)))
        connection.execute(sa.insert(snapshot), [dict(row) for row in late_history])
        connection.execute(
            sa.update(contact)
            .where(contact.c.id == DANA.record_id)
            .values(
                health_score=late_health[0],
                health_state=late_health[1],
                health_trend=late_health[2],
                health_updated_at=late_health[3],
            )
        )
    assert _scored(scored, DANA.record_id)

    run_once(scored, now=NOW + timedelta(days=1))

    assert not _scored(scored, DANA.record_id)
    assert _health(scored, "contact", DANA.record_id) == (None, None, None, None)
    assert occurrences(scored, DANA.needles) == []
