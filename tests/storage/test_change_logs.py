"""The change logs a tick reads (migrations 0012, 0014): filled by the database, whoever writes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance.erase import erase_subject
from storage.crm_ingest import ingest_crm_activities
from storage.crm_tables import Contact
from storage.engine import session_scope
from storage.tick_changes import (
    Deletes,
    PersonImage,
    add_pending,
    pending_records,
    take_activity_changes,
    take_person_changes,
    take_record_changes,
)
from storage.types import core_table
from tests import factories as f

CONTACT = core_table(Contact)
ANA, DANA = "ana@ours.example", "dana@contoso.example"


def _book(engine: Engine) -> None:
    f.user(engine, "u1", ANA, "Ana Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", DANA, "Dana Ruiz", "a1")
    f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(1), activity_id="e1")
    f.email(engine, sender=DANA, to=[ANA], at=f.days_ago(2), activity_id="e2")


def _execute(engine: Engine, statement: Any) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text(statement) if isinstance(statement, str) else statement)


def _taken(engine: Engine) -> tuple[set[str], set[str]]:
    with session_scope(engine) as session:
        deletes = Deletes()
        tables = take_record_changes(session, deletes)
        activities = take_activity_changes(session, deletes)
        deletes.done(session)
    return tables, activities


def _people(engine: Engine) -> set[PersonImage]:
    with session_scope(engine) as session:
        deletes = Deletes()
        images = take_person_changes(session, deletes).images
        deletes.done(session)
    return images


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


def test_health_written_back_is_no_change_and_a_name_is(engine: Engine) -> None:
    _book(engine)
    _taken(engine)  # what the book's own inserts logged
    _people(engine)

    _execute(engine, sa.update(CONTACT).values(health_score=70, health_state=1))
    assert _taken(engine) == (set(), set())
    assert _people(engine) == set()

    _execute(engine, sa.update(CONTACT).values(full_name="Dana Ruiz-Park"))
    assert _taken(engine) == (set(), set())  # the row is logged, not the table
    assert _people(engine) == {PersonImage("contact", "c1", "a1", (DANA,))}


def test_a_contact_or_lead_written_is_logged_as_it_was_and_as_it_is(engine: Engine) -> None:
    _book(engine)
    f.lead(engine, "l1", "pat@lead.example", "Pat Lead", owner="u1")
    assert PersonImage("lead", "l1", None, ("pat@lead.example",)) in _people(engine)

    _execute(engine, sa.update(CONTACT).values(account_id="a2", email2="dana@home.example"))
    _execute(engine, "UPDATE lead SET status = 'qualified'")

    assert _people(engine) == {
        PersonImage("contact", "c1", "a1", (DANA,)),
        PersonImage("contact", "c1", "a2", (DANA, "dana@home.example")),
        PersonImage("lead", "l1", None, ("pat@lead.example",)),
    }
    assert _taken(engine) == ({"system_user", "account"}, {"e1", "e2"})  # the book's inserts


def test_a_contact_deleted_or_given_another_id_marks_its_table(engine: Engine) -> None:
    """The scopes that named the old id are gone from the snapshot: only a regrade finds them."""
    _book(engine)
    _taken(engine)

    _execute(engine, "UPDATE contact SET id = 'c9' WHERE id = 'c1'")
    assert _taken(engine) == ({"contact"}, set())
    assert {image.record_id for image in _people(engine)} == {"c1", "c9"}

    _execute(engine, "DELETE FROM contact")
    assert _taken(engine) == ({"contact"}, set())
    assert _people(engine) == set()


def test_every_write_to_an_activity_or_its_parties_is_logged(engine: Engine) -> None:
    _book(engine)
    _taken(engine)

    _execute(engine, "UPDATE crm_activity SET opens = 3 WHERE id = 'e1'")
    _execute(engine, "DELETE FROM crm_activity_party WHERE activity_id = 'e2'")
    _execute(engine, "DELETE FROM crm_activity WHERE id = 'e2'")

    assert _taken(engine) == (set(), {"e1", "e2"})
    assert _taken(engine) == (set(), set())  # taken once


def test_a_table_emptied_at_once_is_noticed(engine: Engine) -> None:
    _book(engine)
    ingest_crm_activities(engine, now=f.NOW)
    empty = "TRUNCATE crm_activity_party, crm_activity"
    if engine.dialect.name == "sqlite":  # no TRUNCATE: a DELETE of every row
        empty = "DELETE FROM crm_activity_party; DELETE FROM crm_activity"
    for statement in empty.split("; "):
        _execute(engine, statement)

    report = ingest_crm_activities(engine, now=f.NOW)

    assert report.counts.removed == 2
    assert _count(engine, "interaction") == 0


def test_an_erasure_leaves_no_change_naming_the_subject(engine: Engine) -> None:
    _book(engine)
    ingest_crm_activities(engine, now=f.NOW)
    _execute(engine, "UPDATE crm_activity SET opens = 2 WHERE id = 'e1'")
    ingest_crm_activities(engine, now=f.NOW)  # the rewritten row leaves Dana pending
    _execute(engine, sa.update(CONTACT).values(full_name="Dana R."))  # logged with her address
    assert _count(engine, "tick_pending_record") > 0
    assert _count(engine, "crm_person_change") > 0

    erase_subject(engine, DANA, now=f.NOW, dry_run=False)

    assert _count(engine, "interaction_change") == 0
    assert _count(engine, "tick_pending_record") == 0
    assert _count(engine, "crm_person_change") == 0  # it held Dana's address
    tables, _activities = _taken(engine)
    assert "erased_subject" in tables  # the next tick reads everything and regrades


def test_a_row_with_a_problem_is_reported_on_every_tick_until_it_is_gone(engine: Engine) -> None:
    _book(engine)
    _execute(engine, "UPDATE crm_activity SET status = 'bogus' WHERE id = 'e2'")
    assert ingest_crm_activities(engine, now=f.NOW).problems.count == 1

    again = ingest_crm_activities(engine, now=f.NOW)
    assert again.incremental and again.problems.count == 1  # read again, reported again

    _execute(engine, "DELETE FROM crm_activity_party WHERE activity_id = 'e2'")
    _execute(engine, "DELETE FROM crm_activity WHERE id = 'e2'")
    gone = ingest_crm_activities(engine, now=f.NOW)
    assert gone.problems.count == 0
    assert ingest_crm_activities(engine, now=f.NOW).incremental  # not a full pass every time


def test_records_named_again_stay_pending_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_pending(session, [("contact", "c1"), ("account", "a1")])
    with session_scope(engine) as session:
        add_pending(session, [("contact", "c1"), ("contact", "c2"), ("contact", "c2")])
        assert pending_records(session) == {("contact", "c1"), ("contact", "c2"), ("account", "a1")}
