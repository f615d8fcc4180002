"""The CRM-data path: activities and their parties become interactions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.crm_ingest import ingest_crm_activities
from storage.crm_tables import CrmActivity
from storage.types import core_table
from tests import factories as f


def _crm(engine: Engine) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", "Dana.Ruiz@Contoso.example", "Dana Ruiz", "a1")
    f.contact(engine, "c2", "lee@contoso.example", "Lee Park", "a1")


def _interactions(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM interaction")).mappings().all()
        parties = connection.execute(sa.text("SELECT * FROM interaction_party")).mappings().all()
    found = {row["key"]: {**row, "parties": set()} for row in rows}
    for party in parties:
        found[party["interaction_key"]]["parties"].add(
            (party["record_type"], party["record_id"], party["role"], party["side"])
        )
    return found


def test_addresses_match_trimmed_and_case_insensitively(engine: Engine) -> None:
    _crm(engine)
    f.email(
        engine,
        sender="  ANA@ours.example ",
        to=["dana.ruiz@contoso.EXAMPLE"],
        at=f.days_ago(3),
        activity_id="e1",
    )

    ingest_crm_activities(engine)

    interaction = _interactions(engine)["crm:e1"]
    assert interaction["kind"] == "email"
    assert interaction["direction"] == "outbound"
    assert interaction["parties"] == {
        ("system_user", "u1", "from", "internal"),
        ("contact", "c1", "to", "external"),
    }


def test_unknown_addresses_are_never_stored(engine: Engine) -> None:
    _crm(engine)
    f.email(
        engine,
        sender="stranger@elsewhere.example",
        to=["ana@ours.example"],
        cc=["dana.ruiz@contoso.example", "other@nowhere.example"],
        at=f.days_ago(2),
    )

    ingest_crm_activities(engine)

    with engine.connect() as connection:
        dump = " ".join(
            str(value)
            for table in ("interaction", "interaction_party")
            for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
            for value in row
        )
    assert "stranger" not in dump and "nowhere" not in dump
    assert "c1" in dump


def test_inbound_email_direction_comes_from_the_sender(engine: Engine) -> None:
    _crm(engine)
    f.email(
        engine,
        sender="lee@contoso.example",
        to=["ana@ours.example"],
        at=f.days_ago(1),
        activity_id="e2",
    )

    ingest_crm_activities(engine)

    assert _interactions(engine)["crm:e2"]["direction"] == "inbound"


def test_call_logged_by_record_reference_gets_its_owner_as_our_side(engine: Engine) -> None:
    _crm(engine)
    activity = f.call(engine, owner="u1", contact_id="c2", at=f.days_ago(4), minutes=25)

    ingest_crm_activities(engine)

    interaction = _interactions(engine)[f"crm:{activity}"]
    assert interaction["kind"] == "call"
    assert interaction["duration_minutes"] == 25
    assert ("system_user", "u1", "from", "internal") in interaction["parties"]
    assert ("contact", "c2", "to", "external") in interaction["parties"]


def test_rerunning_changes_nothing(engine: Engine) -> None:
    _crm(engine)
    f.email(engine, sender="ana@ours.example", to=["lee@contoso.example"], at=f.days_ago(5))
    f.meeting(
        engine,
        organizer="ana@ours.example",
        attendees={"dana.ruiz@contoso.example": "accepted"},
        start=f.days_ago(6),
    )

    first = ingest_crm_activities(engine)
    before = _interactions(engine)
    second = ingest_crm_activities(engine)

    assert first.counts.added == 2
    assert (second.counts.added, second.counts.updated, second.counts.removed) == (0, 0, 0)
    assert second.counts.unchanged == 2
    assert _interactions(engine) == before


def test_deleted_and_cancelled_activities_disappear(engine: Engine) -> None:
    _crm(engine)
    f.email(
        engine,
        sender="ana@ours.example",
        to=["lee@contoso.example"],
        at=f.days_ago(5),
        activity_id="gone",
    )
    f.meeting(
        engine,
        organizer="ana@ours.example",
        attendees={"lee@contoso.example": "accepted"},
        start=f.days_ago(6),
        activity_id="called-off",
    )
    ingest_crm_activities(engine)
    assert {"crm:gone", "crm:called-off"} <= set(_interactions(engine))

    activities = core_table(CrmActivity)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM crm_activity_party WHERE activity_id = 'gone'"))
        connection.execute(sa.delete(activities).where(activities.c.id == "gone"))
        connection.execute(
            sa.update(activities).where(activities.c.id == "called-off").values(status="cancelled")
        )
    report = ingest_crm_activities(engine)

    assert report.counts.removed == 2
    assert _interactions(engine) == {}
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM interaction_party")).scalar() == 0


def test_a_broken_row_is_reported_by_column_and_keeps_what_was_stored(engine: Engine) -> None:
    _crm(engine)
    f.email(
        engine,
        sender="ana@ours.example",
        to=["lee@contoso.example"],
        at=f.days_ago(5),
        activity_id="e9",
    )
    ingest_crm_activities(engine)
    stored = _interactions(engine)["crm:e9"]

    activities = core_table(CrmActivity)
    with engine.begin() as connection:
        connection.execute(sa.update(activities).where(activities.c.id == "e9").values(kind="fax"))
    report = ingest_crm_activities(engine)

    assert [str(p) for p in report.problems] == [
        "crm_activity 'e9': kind 'fax' is not allowed; "
        "expected one of email, appointment, phone_call, task; row skipped"
    ]
    assert _interactions(engine)["crm:e9"] == stored


def test_open_activities_are_planned_and_meeting_responses_are_kept(engine: Engine) -> None:
    _crm(engine)
    f.meeting(
        engine,
        organizer="ana@ours.example",
        status="open",
        activity_id="m1",
        attendees={"dana.ruiz@contoso.example": "tentative"},
        start=f.days_ago(-3),
    )

    ingest_crm_activities(engine)

    interaction = _interactions(engine)["crm:m1"]
    assert interaction["planned"] in (True, 1)
    assert interaction["kind"] == "meeting" and interaction["direction"] == "outbound"
    with engine.connect() as connection:
        response = connection.execute(
            sa.text("SELECT response FROM interaction_party WHERE record_id = 'c1'")
        ).scalar()
    assert response == "tentative"


def test_internal_only_activity_is_not_an_interaction(engine: Engine) -> None:
    _crm(engine)
    f.user(engine, "u2", "bo@ours.example", "Bo Colleague")
    f.email(engine, sender="ana@ours.example", to=["bo@ours.example"], at=f.days_ago(1))

    report = ingest_crm_activities(engine)

    assert report.counts.added == 0
    assert _interactions(engine) == {}


def test_tracked_email_keyed_by_internet_message_id(engine: Engine) -> None:
    _crm(engine)
    f.email(
        engine,
        sender="ana@ours.example",
        to=["lee@contoso.example"],
        at=f.days_ago(2),
        internet_message_id="<abc@ours.example>",
    )

    ingest_crm_activities(engine)

    assert set(_interactions(engine)) == {"msg:<abc@ours.example>"}
