"""The CRM-data path derives only what changed, and ends where a full pass would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance.erase import erase_subject
from storage import person_activities
from storage.crm_activity_rows import ActivityPartyRow, ActivityRow
from storage.crm_digests import digest_count
from storage.crm_ingest import CrmIngestReport, ingest_crm_activities
from storage.crm_tables import Contact, CrmActivity, CrmActivityParty
from storage.engine import session_scope
from storage.tick_changes import read_state
from storage.types import core_table
from tests import factories as f

ACTIVITY, PARTY = core_table(CrmActivity), core_table(CrmActivityParty)
CONTACT = core_table(Contact)
ANA, DANA, LEE = "ana@ours.example", "dana@contoso.example", "lee@contoso.example"


def _book(engine: Engine) -> None:
    f.user(engine, "u1", ANA, "Ana Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", DANA, "Dana Ruiz", "a1")
    for day in range(1, 6):
        f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(day), activity_id=f"e{day}")
    f.email(engine, sender=DANA, to=[ANA], cc=[LEE], at=f.days_ago(8), activity_id="from-dana")


def _stored(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM interaction")).mappings().all()
        parties = connection.execute(sa.text("SELECT * FROM interaction_party")).all()
    stored = {row["key"]: {**row, "parties": set()} for row in rows}
    for party in parties:
        stored[party.interaction_key]["parties"].add(tuple(party)[1:])
    return stored


def _execute(engine: Engine, statement: Any) -> None:
    with engine.begin() as connection:
        connection.execute(statement)


def _assert_a_full_pass_agrees(engine: Engine) -> None:
    """Forgetting every digest forces a full pass: it must find nothing to change.
    Before that, the digest count the passes kept is the table's (else the next tick
    would be a full pass for no reason)."""
    with session_scope(engine) as session:
        assert read_state(session).crm_digests == digest_count(session=session)
    incremental = _stored(engine)
    _execute(engine, sa.text("DELETE FROM crm_activity_digest"))
    report = ingest_crm_activities(engine)
    assert (report.counts.added, report.counts.updated, report.counts.removed) == (0, 0, 0)
    assert _stored(engine) == incremental


def _changes(report: CrmIngestReport) -> tuple[int, int, int]:
    return report.counts.added, report.counts.updated, report.counts.removed


def test_a_tick_with_nothing_new_derives_nothing_and_writes_nothing(engine: Engine) -> None:
    _book(engine)
    first = ingest_crm_activities(engine)
    assert (first.unchanged, _changes(first)) == (0, (6, 0, 0))

    again = ingest_crm_activities(engine)

    assert again.activities == 6
    assert again.unchanged == 6  # read and hashed, not derived again
    assert _changes(again) == (0, 0, 0)
    assert again.counts.unchanged == 6
    _assert_a_full_pass_agrees(engine)


def test_new_changed_cancelled_and_deleted_activities_are_all_seen(engine: Engine) -> None:
    _book(engine)
    ingest_crm_activities(engine)
    f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(0.5), activity_id="new")
    _execute(engine, sa.update(ACTIVITY).where(ACTIVITY.c.id == "e1").values(opens=4))
    _execute(engine, sa.update(ACTIVITY).where(ACTIVITY.c.id == "e2").values(status="cancelled"))
    _execute(engine, sa.delete(PARTY).where(PARTY.c.activity_id == "e3"))
    _execute(engine, sa.delete(ACTIVITY).where(ACTIVITY.c.id == "e3"))

    report = ingest_crm_activities(engine)

    assert report.unchanged == 3  # e4, e5, from-dana
    assert _changes(report) == (1, 1, 2)
    stored = _stored(engine)
    assert {"crm:new", "crm:e1"} <= stored.keys()
    assert not {"crm:e2", "crm:e3"} & stored.keys()
    assert stored["crm:e1"]["opens"] == 4
    _assert_a_full_pass_agrees(engine)


def test_a_party_added_to_an_activity_is_taken_in(engine: Engine) -> None:
    _book(engine)
    f.contact(engine, "c2", LEE, "Lee Park", "a1")
    ingest_crm_activities(engine)
    f.insert(engine, CrmActivityParty, {"activity_id": "e4", "role": "cc", "address": LEE})

    report = ingest_crm_activities(engine)

    assert _changes(report) == (0, 1, 0)
    assert ("contact", "c2", "cc", "external", None) in _stored(engine)["crm:e4"]["parties"]
    _assert_a_full_pass_agrees(engine)


def test_a_new_contact_is_matched_on_the_activities_that_named_them(engine: Engine) -> None:
    _book(engine)
    ingest_crm_activities(engine)
    assert all(p[1] != "c2" for p in _stored(engine)["crm:from-dana"]["parties"])

    f.contact(engine, "c2", LEE, "Lee Park", "a1")  # the CRM learns who lee@ is
    report = ingest_crm_activities(engine)

    assert report.incremental  # read by Lee's address (migration 0014), not a full pass
    assert report.unchanged == 5 and report.derived == 1  # only the activity naming Lee
    assert _changes(report) == (0, 1, 0)
    assert ("contact", "c2", "cc", "external", None) in _stored(engine)["crm:from-dana"]["parties"]
    _assert_a_full_pass_agrees(engine)


def test_a_contact_whose_address_changes_moves_the_activities_of_both_addresses(
    engine: Engine,
) -> None:
    _book(engine)
    ingest_crm_activities(engine)

    _execute(engine, sa.update(CONTACT).values(email=LEE))  # Dana's address was wrong
    report = ingest_crm_activities(engine)

    assert report.incremental and report.derived == 6  # every activity names one of the two
    assert _changes(report) == (0, 1, 5)  # to dana@ (nobody now) goes; Lee's cc is c1's
    assert ("contact", "c1", "cc", "external", None) in _stored(engine)["crm:from-dana"]["parties"]
    _assert_a_full_pass_agrees(engine)


def test_many_people_written_at_once_are_all_looked_for(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every batch of people and addresses is asked (a few per statement on SQLite)."""
    monkeypatch.setattr(person_activities, "SQLITE_LIST", 2)
    _book(engine)
    strangers = [f"p{number}@contoso.example" for number in range(5)]
    for number, address in enumerate(strangers):
        f.email(engine, sender=ANA, to=[address], at=f.days_ago(2), activity_id=f"s{number}")
    ingest_crm_activities(engine)

    for number, address in enumerate(strangers):
        f.contact(engine, f"p{number}", address, f"Person {number}", "a1")
    report = ingest_crm_activities(engine)

    assert report.incremental and _changes(report) == (5, 0, 0)
    _assert_a_full_pass_agrees(engine)


def test_a_contact_renamed_derives_nothing_again(engine: Engine) -> None:
    _book(engine)
    ingest_crm_activities(engine)

    _execute(engine, sa.update(CONTACT).values(full_name="Dana Ruiz-Park", account_id=None))
    report = ingest_crm_activities(engine)

    # Read by Dana's address, and unchanged: the directory matches them as before.
    assert report.incremental and report.derived == 0 and report.tables_changed == set()
    _assert_a_full_pass_agrees(engine)


def test_an_address_outside_ascii_is_matched_as_the_directory_matches_it(engine: Engine) -> None:
    _book(engine)
    f.email(engine, sender=ANA, to=[" ZOË@Contoso.example"], at=f.days_ago(2), activity_id="z")
    ingest_crm_activities(engine)
    assert "crm:z" not in _stored(engine)  # nobody known on the customer's side

    f.contact(engine, "c3", "zoë@contoso.example", "Zoë", "a1")
    report = ingest_crm_activities(engine)

    assert report.incremental and _changes(report) == (1, 0, 0)
    assert ("contact", "c3", "to", "external", None) in _stored(engine)["crm:z"]["parties"]
    _assert_a_full_pass_agrees(engine)


def test_a_contact_deleted_makes_a_full_pass(engine: Engine) -> None:
    _book(engine)
    f.contact(engine, "c2", LEE, "Lee Park", "a1")
    ingest_crm_activities(engine)

    _execute(engine, sa.delete(CONTACT).where(CONTACT.c.id == "c2"))
    report = ingest_crm_activities(engine)

    assert not report.incremental and report.tables_changed == {"contact"}
    assert _changes(report) == (0, 1, 0)
    _assert_a_full_pass_agrees(engine)


def test_an_erased_contact_does_not_linger_on_unchanged_activities(engine: Engine) -> None:
    _book(engine)
    f.contact(engine, "c2", LEE, "Lee Park", "a1")
    ingest_crm_activities(engine)

    erase_subject(engine, LEE, now=f.days_ago(0), dry_run=False)
    ingest_crm_activities(engine)  # the CRM still names Lee on from-dana

    parties = _stored(engine)["crm:from-dana"]["parties"]
    assert all(party[1] != "c2" for party in parties)
    _assert_a_full_pass_agrees(engine)


def test_an_activity_ageing_past_the_retention_cutoff_leaves(engine: Engine) -> None:
    _book(engine)
    cutoff = f.days_ago(4.5)
    ingest_crm_activities(engine, not_before=f.days_ago(30))

    report = ingest_crm_activities(engine, not_before=cutoff)

    assert report.beyond_retention == 2  # e5 and from-dana are now older than the window
    assert _changes(report) == (0, 0, 2)
    assert not {"crm:e5", "crm:from-dana"} & _stored(engine).keys()
    again = ingest_crm_activities(engine, not_before=cutoff)
    assert (again.beyond_retention, again.unchanged) == (2, 6)  # still counted when skipped


def test_an_interaction_removed_behind_its_back_is_restored(engine: Engine) -> None:
    _book(engine)
    ingest_crm_activities(engine)
    _execute(engine, sa.text("DELETE FROM interaction_party WHERE interaction_key = 'crm:e2'"))
    _execute(engine, sa.text("DELETE FROM interaction WHERE key = 'crm:e2'"))

    report = ingest_crm_activities(engine)

    # The interaction change log names crm:e2: e2 alone is derived again.
    assert report.unchanged == 5
    assert _changes(report) == (1, 0, 0)
    assert "crm:e2" in _stored(engine)
    _assert_a_full_pass_agrees(engine)


def test_one_email_tracked_twice_keeps_the_full_pass_result(engine: Engine) -> None:
    _book(engine)
    for activity_id, at in (("t1", f.days_ago(2)), ("t2", f.days_ago(2) + timedelta(minutes=1))):
        f.email(
            engine,
            sender=ANA,
            to=[DANA],
            at=at,
            activity_id=activity_id,
            internet_message_id="<same@contoso.example>",
        )
    ingest_crm_activities(engine)
    _execute(engine, sa.update(ACTIVITY).where(ACTIVITY.c.id == "t1").values(clicks=2))

    ingest_crm_activities(engine)

    _assert_a_full_pass_agrees(engine)


@pytest.mark.parametrize("fix", [False, True])
def test_a_broken_row_is_reported_on_every_run_and_its_interaction_kept(
    engine: Engine, fix: bool
) -> None:
    _book(engine)
    ingest_crm_activities(engine)
    _execute(engine, sa.update(ACTIVITY).where(ACTIVITY.c.id == "e1").values(kind="fax"))

    for _ in range(2):
        report = ingest_crm_activities(engine)
        assert [problem.column for problem in report.problems] == ["kind"]
        assert "crm:e1" in _stored(engine)
    if fix:
        _execute(engine, sa.update(ACTIVITY).where(ACTIVITY.c.id == "e1").values(kind="email"))
        assert not ingest_crm_activities(engine).problems
    _assert_a_full_pass_agrees(engine)


def test_activity_rows_carry_every_column_of_the_contract() -> None:
    # The digest covers the whole row: a column the raw read missed would go unnoticed.
    assert ActivityRow._fields == tuple(ACTIVITY.c.keys())
    assert ActivityPartyRow._fields == tuple(PARTY.c.keys())


def test_activity_ids_with_tabs_and_backslashes_are_recognised_next_time(engine: Engine) -> None:
    _book(engine)
    odd = "odd\tid\\with\nbreaks"
    f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(1), activity_id=odd)
    ingest_crm_activities(engine)

    again = ingest_crm_activities(engine)

    assert again.unchanged == 7
    assert f"crm:{odd}" in _stored(engine)


def test_after_an_erasure_no_digest_row_points_at_the_subjects_interactions(
    engine: Engine,
) -> None:
    _book(engine)
    ingest_crm_activities(engine)

    erase_subject(engine, DANA, now=f.days_ago(0), dry_run=False)
    ingest_crm_activities(engine)

    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT activity_id, outcome, interaction_key FROM crm_activity_digest")
        ).all()
    assert {tuple(row) for row in rows} == {
        *((f"e{day}", "none", None) for day in range(1, 6)),
        ("from-dana", "none", None),
    }
    assert _stored(engine) == {}


def test_an_incremental_pass_reports_the_whole_book_as_a_full_pass_does(engine: Engine) -> None:
    """Its totals come from the digests counted once and what it changed, not from
    counting the book again: they must still be a full pass's."""
    _book(engine)
    f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(40), activity_id="old")
    _execute(engine, sa.update(ACTIVITY).where(ACTIVITY.c.id == "e1").values(kind="fax"))
    cutoff = f.days_ago(30)
    ingest_crm_activities(engine, not_before=cutoff)
    _execute(engine, sa.update(ACTIVITY).where(ACTIVITY.c.id == "e2").values(opens=3))
    _execute(engine, sa.delete(PARTY).where(PARTY.c.activity_id == "e3"))
    _execute(engine, sa.delete(ACTIVITY).where(ACTIVITY.c.id == "e3"))
    f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(0.5), activity_id="new")

    report = ingest_crm_activities(engine, not_before=cutoff)
    full = ingest_crm_activities(engine, not_before=cutoff, full=True)

    assert report.incremental and not full.incremental
    assert _changes(report) == (1, 1, 1) and _changes(full) == (0, 0, 0)
    assert (report.activities, report.beyond_retention) == (full.activities, 1) == (7, 1)
    assert report.covered_by_exchange == full.covered_by_exchange
    # Every stored CRM interaction, whether this pass wrote it or not.
    assert report.counts.unchanged + report.counts.added + report.counts.updated == 5
    assert full.counts.unchanged == 5
