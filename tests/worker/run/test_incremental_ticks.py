"""Incremental ticks end where a full regrade would (issue 21, item 1).

Hypothesis draws a sequence of CRM changes (activities added, updated,
deleted; parties moved; an interaction removed behind the CRM path's back;
a contact moved to another account, renamed, readdressed, added or
deleted; a lead closed or reopened, readdressed or handed to another owner)
with incremental ticks in between, all at the same `now`; then a full
regrade at that `now` must change nothing in the stored health, KPIs,
reasons, history, introducers or interactions. Few examples on a
small book, on both databases (the `ticks-ci` profile); for a longer hunt:
`RAPPORT_HYPOTHESIS_PROFILE=ticks-long .venv/bin/pytest tests/worker/run/test_incremental_ticks.py`.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from storage.crm_tables import Contact, CrmActivity, CrmActivityParty, Lead
from storage.types import core_table
from tests import factories as f
from worker.admin_settings import change_setting
from worker.run.tick import RunSummary, run_once

_COMMON = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("ticks-ci", _COMMON, max_examples=5, derandomize=True, database=None)
settings.register_profile("ticks-long", _COMMON, max_examples=200)
ticks_settings = settings.get_profile(os.environ.get("RAPPORT_HYPOTHESIS_PROFILE", "ticks-ci"))

NOW = f.NOW
EVERY = timedelta(days=1)
ACTIVITY, PARTY, CONTACT, LEAD = (
    core_table(CrmActivity),
    core_table(CrmActivityParty),
    core_table(Contact),
    core_table(Lead),
)
USERS = ("ana@ours.example", "bo@ours.example")
CUSTOMERS = (
    "dana@contoso.example",
    "lee@contoso.example",
    "kim@northwind.example",
    "sam@northwind.example",
    "pat@lead.example",
    "jo@contoso.example",
    "ray@contoso.example",  # nobody's, until a contact or the lead takes it
)
CONTACT_OF = {CUSTOMERS[0]: "c1", CUSTOMERS[1]: "c2", CUSTOMERS[2]: "c3", CUSTOMERS[3]: "c4"}
CONTACT_OF[CUSTOMERS[5]] = "c5"
HEALTH_TABLES = ("contact", "lead", "opportunity", "account")


def _book(engine: Engine) -> None:
    f.user(engine, "u1", USERS[0], "Ana Seller")
    f.user(engine, "u2", USERS[1], "Bo Seller", team="west")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.account(engine, "a2", "Northwind", primary="c3")
    f.contact(engine, "c1", CUSTOMERS[0], "Dana Ruiz", "a1")
    f.contact(engine, "c2", CUSTOMERS[1], "Lee Park", "a1")
    f.contact(engine, "c3", CUSTOMERS[2], "Kim Other", "a2")
    f.contact(engine, "c4", CUSTOMERS[3], "Sam Lane", "a2")
    f.contact(engine, "c5", CUSTOMERS[5], "Jo Quiet", "a1")  # Contoso's, in no deal
    f.lead(engine, "l1", CUSTOMERS[4], "Pat Lead", owner="u1")
    f.opportunity(engine, "o1", "a1", "u1", customer="c1", stakeholders=("c2",))
    f.opportunity(engine, "o2", "a2", "u2", customer="c3", stakeholders=("c4",))
    for day in (3, 10, 40):
        f.email(engine, sender=USERS[0], to=[CUSTOMERS[0]], at=f.days_ago(day))
        f.email(engine, sender=CUSTOMERS[2], to=[USERS[1]], at=f.days_ago(day + 1))


# --- what changes between ticks ------------------------------------------------------

add = st.tuples(
    st.just("add"),
    st.sampled_from(("email", "meeting", "call")),
    st.sampled_from(USERS),
    st.sampled_from(CUSTOMERS),
    st.floats(min_value=0.5, max_value=120),
    st.booleans(),  # outbound
)
update = st.tuples(
    st.just("update"),
    st.integers(min_value=0, max_value=50),  # which activity (modulo how many there are)
    st.sampled_from(("opens", "cancel", "move", "party")),
    st.sampled_from(CUSTOMERS),
    st.floats(min_value=0.5, max_value=120),
)
delete = st.tuples(st.just("delete"), st.integers(min_value=0, max_value=50))
behind = st.tuples(st.just("behind"), st.integers(min_value=0, max_value=50))
move_contact = st.tuples(st.just("contact"), st.sampled_from(("c2", "c4")))
# A contact or lead row written: logged by row (migration 0014), scored without a regrade
# (but "drop", a contact deleted, which regrades).
person = st.tuples(
    st.just("person"),
    st.sampled_from(("rename", "readdress", "created", "new", "drop", "lead")),
    st.sampled_from(("c1", "c2", "c3", "c4", "c5", "c6")),
    st.sampled_from((*CUSTOMERS, "nobody@elsewhere.example", USERS[1])),
    st.sampled_from(("open", "qualified", "owner", "readdress")),
)
tick = st.just(("tick",))
steps = st.lists(
    st.one_of(add, update, delete, tick, behind, move_contact, person),
    min_size=1,
    max_size=12,
)


def _execute(engine: Engine, statement: Any) -> None:
    with engine.begin() as connection:
        connection.execute(statement)


def _activity_ids(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(sa.select(ACTIVITY.c.id).order_by(ACTIVITY.c.id)))


def _apply(engine: Engine, step: tuple[Any, ...]) -> RunSummary | None:
    kind = step[0]
    if kind == "tick":
        return run_once(engine, now=NOW, regrade_every=EVERY)
    if kind == "add":
        _, what, user, customer, days, outbound = step
        sender, other = (user, customer) if outbound else (customer, user)
        if what == "email":
            f.email(engine, sender=sender, to=[other], at=f.days_ago(days))
        elif what == "meeting":
            f.meeting(
                engine, organizer=user, attendees={customer: "accepted"}, start=f.days_ago(days)
            )
        else:
            owner = "u1" if user == USERS[0] else "u2"
            contact = CONTACT_OF.get(customer, "c1")  # a call names a contact record
            direction = "outgoing" if outbound else "incoming"
            f.call(
                engine, owner=owner, contact_id=contact, at=f.days_ago(days), direction=direction
            )
        return None
    if kind == "person":
        _write_person(engine, *step[1:])
        return None
    if kind == "contact":
        account = {"c2": ("a1", "a2"), "c4": ("a2", "a1")}[step[1]]
        with engine.connect() as connection:
            now_in = connection.scalar(
                sa.select(CONTACT.c.account_id).where(CONTACT.c.id == step[1])
            )
        target = account[1] if now_in == account[0] else account[0]
        _execute(
            engine, sa.update(CONTACT).where(CONTACT.c.id == step[1]).values(account_id=target)
        )
        return None
    ids = _activity_ids(engine)
    if not ids:
        return None
    activity_id = ids[step[1] % len(ids)]
    if kind == "delete":
        _execute(engine, sa.delete(PARTY).where(PARTY.c.activity_id == activity_id))
        _execute(engine, sa.delete(ACTIVITY).where(ACTIVITY.c.id == activity_id))
    elif kind == "behind":  # e.g. a purge or a hand edit: not the CRM path's doing
        _execute(
            engine,
            sa.text(f"DELETE FROM interaction_party WHERE interaction_key = 'crm:{activity_id}'"),
        )
        _execute(engine, sa.text(f"DELETE FROM interaction WHERE key = 'crm:{activity_id}'"))
    else:
        _update(engine, activity_id, step[2], step[3], step[4])
    return None


def _write_person(engine: Engine, change: str, contact: str, address: str, lead: str) -> None:
    """One contact or lead row written. An address is never given to a second contact:
    which of two claims it rests on their order on disk (storage.directory)."""
    with engine.connect() as connection:
        holders = {
            key: (email, account)
            for key, email, account in connection.execute(
                sa.select(CONTACT.c.id, CONTACT.c.email, CONTACT.c.account_id)
            )
        }
    if change == "lead":
        values: dict[str, Any] = {"open": {"status": "open"}, "qualified": {"status": "qualified"}}
        values["owner"] = {"owner_id": "u2"}
        values["readdress"] = {"email": address}
        _execute(engine, sa.update(LEAD).where(LEAD.c.id == "l1").values(values[lead]))
        return
    taken = any(email == address for key, (email, _) in holders.items() if key != contact)
    if change == "new" and contact not in holders and not taken:
        f.contact(engine, contact, address, f"New {contact}", "a2")
    elif contact not in holders:
        return
    elif change == "rename":
        where = CONTACT.c.id == contact
        _execute(engine, sa.update(CONTACT).where(where).values(full_name=f"{contact} renamed"))
    elif change == "readdress" and not taken:
        _execute(engine, sa.update(CONTACT).where(CONTACT.c.id == contact).values(email=address))
    elif change == "created":
        values = {"created_at": f.days_ago(len(address))}
        _execute(engine, sa.update(CONTACT).where(CONTACT.c.id == contact).values(values))
    elif change == "drop" and contact in ("c5", "c6"):  # in no deal, nobody's primary
        _execute(engine, sa.delete(CONTACT).where(CONTACT.c.id == contact))


def _update(engine: Engine, activity_id: str, change: str, customer: str, days: float) -> None:
    where = ACTIVITY.c.id == activity_id
    if change == "opens":
        _execute(engine, sa.update(ACTIVITY).where(where).values(opens=ACTIVITY.c.opens + 1))
    elif change == "cancel":
        _execute(engine, sa.update(ACTIVITY).where(where).values(status="cancelled"))
    elif change == "move":
        at = f.days_ago(days)
        _execute(engine, sa.update(ACTIVITY).where(where).values(start_at=at, end_at=at))
    else:  # the customer side of the activity is someone else now
        customers = sa.and_(PARTY.c.activity_id == activity_id, PARTY.c.address.in_(CUSTOMERS))
        _execute(engine, sa.update(PARTY).where(customers).values(address=customer))


def _stored(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a tick writes that a reader sees: health, KPIs and reasons, history,
    who knows whom (without when it was computed), interactions."""
    tables = {
        **{
            name: f"SELECT id, health_score, health_state, health_trend FROM {name}"
            for name in HEALTH_TABLES
        },
        "relationship_kpi": "SELECT * FROM relationship_kpi",
        "introducer": "SELECT record_type, record_id, system_user_id, rank, strength,"
        " strength_label, last_interaction_at FROM introducer",
        "health_snapshot": "SELECT * FROM health_snapshot",
        "interaction": "SELECT key, kind, direction, occurred_at, parties, regarding_type,"
        " regarding_id, opens FROM interaction",
    }
    with engine.connect() as connection:
        return {
            name: sorted(tuple(map(str, row)) for row in connection.execute(sa.text(query)))
            for name, query in tables.items()
        }


@pytest.fixture
def book(engine: Engine) -> Engine:
    _book(engine)
    first = run_once(engine, now=NOW, regrade_every=EVERY)
    assert first.scoring == "regrade"
    return engine


@pytest.mark.timeout(300)
@ticks_settings
@given(changes=steps)
def test_incremental_ticks_then_a_full_regrade_at_the_same_now_change_nothing(
    book: Engine, changes: list[tuple[Any, ...]]
) -> None:
    for step in changes:
        _apply(book, step)
    last = run_once(book, now=NOW, regrade_every=EVERY)
    assert last.scoring in ("skipped", "changed", "regrade")
    incremental = _stored(book)

    # Forgetting every digest makes the CRM path derive every activity from scratch.
    _execute(book, sa.text("DELETE FROM crm_activity_digest"))
    full = run_once(book, now=NOW, regrade_every=EVERY, full=True)

    assert full.scoring == "regrade"
    assert (full.ingest.counts.added, full.ingest.counts.updated, full.ingest.counts.removed) == (
        0,
        0,
        0,
    )
    assert _stored(book) == incremental


def test_a_tick_with_nothing_new_skips_scoring_and_keeps_the_stored_health(book: Engine) -> None:
    before = _stored(book)

    again = run_once(book, now=NOW + timedelta(hours=1), regrade_every=EVERY)

    assert again.scoring == "skipped"
    assert again.records_scored == 0 and again.ingest.derived == 0
    assert _stored(book) == before


def test_one_new_activity_scores_only_the_records_it_feeds(book: Engine) -> None:
    f.email(book, sender=USERS[1], to=[CUSTOMERS[3]], at=f.days_ago(1))  # Sam, of Northwind

    summary = run_once(book, now=NOW, regrade_every=EVERY)

    assert summary.scoring == "changed"
    assert summary.ingest.derived == 1
    # Sam, Northwind (Sam's account) and o2 (Sam is a stakeholder); not Contoso's side.
    assert summary.records_scored == 3


@pytest.mark.parametrize(
    ("why", "change"),
    [
        ("scheduled", lambda engine: None),
        (
            "settings changed",
            lambda engine: change_setting(engine, "communication_frequency", "daily", now=NOW),
        ),
        (
            "CRM records changed",
            lambda engine: _execute(engine, sa.text("UPDATE account SET name = 'Contoso Ltd'")),
        ),
    ],
)
def test_every_record_is_regraded_when_due(book: Engine, why: str, change: Any) -> None:
    change(book)
    later = NOW + (EVERY if why == "scheduled" else timedelta(minutes=5))

    summary = run_once(book, now=later, regrade_every=EVERY)

    assert (summary.scoring, summary.regrade_reason) == ("regrade", why)
    assert summary.records_scored == 10  # 5 contacts, 1 lead, 2 deals, 2 accounts


def test_a_contact_written_scores_the_records_it_feeds_without_a_regrade(book: Engine) -> None:
    where = CONTACT.c.id == "c2"  # Lee, of Contoso, a stakeholder of o1
    _execute(book, sa.update(CONTACT).where(where).values(full_name="Lee Park-Ruiz"))

    renamed = run_once(book, now=NOW, regrade_every=EVERY)

    assert (renamed.scoring, renamed.records_scored) == ("changed", 3)  # Lee, Contoso, o1
    assert renamed.ingest.incremental and renamed.ingest.derived == 0

    _execute(book, sa.update(CONTACT).where(where).values(account_id="a2"))
    moved = run_once(book, now=NOW, regrade_every=EVERY)

    assert (moved.scoring, moved.records_scored) == ("changed", 4)  # and Northwind, joined


def test_a_lead_closed_keeps_its_health_and_loses_its_introducers(book: Engine) -> None:
    f.email(book, sender=USERS[0], to=[CUSTOMERS[4]], at=f.days_ago(2))  # Ana writes to Pat
    run_once(book, now=NOW, regrade_every=EVERY)
    before = _stored(book)
    assert any(row[:2] == ("lead", "l1") for row in before["introducer"])

    _execute(book, sa.update(LEAD).values(status="qualified"))
    closed = run_once(book, now=NOW, regrade_every=EVERY)

    assert (closed.scoring, closed.records_scored) == ("changed", 0)
    after = _stored(book)
    assert after["lead"] == before["lead"]
    assert not any(row[:2] == ("lead", "l1") for row in after["introducer"])


def test_a_contact_in_no_deal_rolls_up_into_its_account(book: Engine) -> None:
    f.email(book, sender=USERS[0], to=[CUSTOMERS[5]], at=f.days_ago(1))

    summary = run_once(book, now=NOW, regrade_every=EVERY)

    assert (summary.scoring, summary.records_scored) == ("changed", 2)  # Jo and Contoso


def test_writing_health_back_is_not_a_crm_change(book: Engine) -> None:
    """The health columns live on the CRM's tables; writing them must not ask for a regrade."""
    f.email(book, sender=USERS[0], to=[CUSTOMERS[1]], at=f.days_ago(1))
    assert run_once(book, now=NOW, regrade_every=EVERY).scoring == "changed"

    assert run_once(book, now=NOW, regrade_every=EVERY).scoring == "skipped"


def test_a_new_activity_ranks_the_introducers_of_the_people_it_names(book: Engine) -> None:
    f.email(book, sender=USERS[1], to=[CUSTOMERS[3]], at=f.days_ago(1))  # Bo writes to Sam

    summary = run_once(book, now=NOW, regrade_every=EVERY)

    assert summary.scoring == "changed"
    with book.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT record_id, system_user_id, rank FROM introducer ORDER BY 1, 2")
        ).all()
    # Sam's introducer is Bo now; Dana's (c1) and Kim's (c3), ranked at the first tick, stay.
    assert ("c4", "u2", 1) in [tuple(row) for row in rows]
    assert {row[0] for row in rows} >= {"c1", "c3", "c4"}
