"""The same person listed twice in one role of a CRM activity is one participant.

Two party rows can name one person: two of their addresses, a record
reference and an address, a CRM that logged an attendee twice. They become
one `interaction_party` row (its key is the interaction, the person and the
role) with the clearest answer, of two as clear the lower party id, as an
Exchange meeting's attendee listed twice does; never a failed run. Both ways
of a first ingest (the Python rules, and SQL on PostgreSQL) and a later
incremental pass agree.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.crm_activity_rows import ActivityPartyRow, ActivityRow
from storage.crm_activity_rules import TimeWindow, to_interaction
from storage.crm_ingest import ingest_crm_activities
from storage.crm_tables import CrmActivity, CrmActivityParty
from storage.directory import Directory
from storage.interaction_store import PartyRow
from tests import factories as f

ANA, DANA = "ana@ours.example", "dana@contoso.example"


def _book(engine: Engine) -> None:
    f.user(engine, "u1", ANA, "Ana Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", DANA, "Dana Ruiz", "a1")
    f.contact(engine, "c2", "lee@contoso.example", "Lee Park", "a1")


def _appointment(engine: Engine, activity_id: str, *responses: str | None) -> None:
    """Ana's meeting with Dana listed as `required` once per response, in that party order,
    alternately by address (spelt differently) and by record reference."""
    start = f.days_ago(3)
    f.insert(
        engine,
        CrmActivity,
        {
            "id": activity_id,
            "kind": "appointment",
            "status": "completed",
            "owner_id": "u1",
            "start_at": start,
            "end_at": start + timedelta(minutes=30),
        },
    )
    for number, response in enumerate(responses):
        _party(engine, activity_id, number, response)


def _party(engine: Engine, activity_id: str, number: int, response: str | None) -> None:
    by_reference = number % 2 == 1
    f.insert(
        engine,
        CrmActivityParty,
        {
            "activity_id": activity_id,
            "role": "required",
            "address": None if by_reference else f"  {DANA.upper()} " if number else DANA,
            "record_type": "contact" if by_reference else None,
            "record_id": "c1" if by_reference else None,
            "response": response,
        },
    )


def _dana(engine: Engine, activity_id: str) -> list[tuple[str, str | None]]:
    """Dana's party rows on the activity's interaction: (role, response)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT role, response FROM interaction_party"
                " WHERE interaction_key = :key AND record_id = 'c1'"
            ),
            {"key": f"crm:{activity_id}"},
        )
        return [(role, response) for role, response in rows]


def _packed_count(engine: Engine, activity_id: str) -> int:
    with engine.connect() as connection:
        count = connection.scalar(
            sa.text("SELECT party_count FROM interaction WHERE key = :key"),
            {"key": f"crm:{activity_id}"},
        )
    return int(count or 0)


@pytest.mark.parametrize("bulk", [True, False], ids=["sql-first-ingest", "python-rules"])
def test_a_person_twice_in_one_role_is_one_party_with_the_clearest_answer(
    engine: Engine, bulk: bool
) -> None:
    _book(engine)
    _appointment(engine, "none-then-accepted", "none", "accepted")
    _appointment(engine, "tentative-then-declined", None, "tentative", "declined")
    _appointment(engine, "declined-then-accepted", "declined", "accepted")
    _appointment(engine, "same-answer-twice", "accepted", "accepted")

    report = ingest_crm_activities(engine, now=f.NOW, bulk=bulk)

    assert report.counts.added == 4
    assert report.problems.count == 0  # not a problem: nothing to correct in the CRM
    assert _dana(engine, "none-then-accepted") == [("required", "accepted")]
    assert _dana(engine, "tentative-then-declined") == [("required", "declined")]
    assert _dana(engine, "declined-then-accepted") == [("required", "declined")]
    assert _dana(engine, "same-answer-twice") == [("required", "accepted")]
    # Ana (the owner, no party of her own) and Dana: the packed copy agrees.
    assert _packed_count(engine, "none-then-accepted") == 2
    if bulk and engine.dialect.name == "postgresql":
        assert report.bulk == 4  # derived in SQL, not routed to the Python rules


def test_a_later_pass_that_adds_the_person_again_updates_the_one_party(engine: Engine) -> None:
    _book(engine)
    _appointment(engine, "m1", "none")
    _appointment(engine, "m2", "accepted")
    ingest_crm_activities(engine, now=f.NOW)

    _party(engine, "m1", 1, "accepted")  # the clearer answer, under a higher party id
    _party(engine, "m2", 1, "declined")  # as clear: the first one stays
    report = ingest_crm_activities(engine, now=f.NOW)

    assert report.incremental and report.problems.count == 0
    assert (report.counts.updated, report.counts.unchanged) == (1, 1)
    assert _dana(engine, "m1") == [("required", "accepted")]
    assert _dana(engine, "m2") == [("required", "accepted")]

    again = ingest_crm_activities(engine, now=f.NOW)

    assert again.derived == 0  # the digests hold: nothing derived again
    assert (again.counts.added, again.counts.updated, again.counts.removed) == (0, 0, 0)


def test_a_person_twice_without_answers_as_a_dataverse_pull_writes_them(engine: Engine) -> None:
    """The Dataverse pull writes one party row per activityparty, without a response:
    a contact named by reference and by the address used, in one role."""
    _book(engine)
    f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(2), activity_id="e1")
    f.insert(
        engine,
        CrmActivityParty,
        {
            "activity_id": "e1",
            "role": "to",
            "address": DANA,
            "record_type": "contact",
            "record_id": "c1",
            "response": None,
        },
    )

    report = ingest_crm_activities(engine, now=f.NOW)

    assert report.counts.added == 1 and report.problems.count == 0
    assert _dana(engine, "e1") == [("to", None)]


def test_which_answer_is_kept_does_not_depend_on_the_order_rows_are_read() -> None:
    directory = Directory(by_address={DANA: ("contact", "c1")}, known={("contact", "c1")})
    start = f.days_ago(1)
    activity = ActivityRow(
        "m1",
        "appointment",
        None,
        None,
        "completed",
        start,
        start,
        None,
        None,
        None,
        None,
        0,
        0,
        None,
    )
    parties = [
        ActivityPartyRow(7, "m1", "required", DANA, None, None, "declined"),
        ActivityPartyRow(3, "m1", "required", None, "contact", "c1", "accepted"),
        ActivityPartyRow(5, "m1", "required", DANA, None, None, "tentative"),
    ]
    window = TimeWindow.around(f.NOW)

    derived = [
        to_interaction(activity, order, directory, window=window, noted=[])
        for order in (parties, parties[::-1])
    ]

    assert derived[0] is not None and derived[0] == derived[1]
    assert derived[0].parties == {PartyRow("contact", "c1", "required", "external", "accepted")}
