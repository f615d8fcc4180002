"""The first CRM ingest into an empty store: written in bulk, its changes named at once.

It writes without logging each interaction (migration 0013) and names every
record the stored interactions touch instead; the tick must still learn
exactly what it would have learnt from the per-row log, and every later
writer must be logged as before.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.crm_ingest import ingest_crm_activities
from storage.engine import session_scope
from storage.interaction_store import InteractionRecord, PartyRow, insert_interactions
from storage.tick_changes import pending_records
from tests import factories as f

ANA, DANA, LEE = "ana@ours.example", "dana@contoso.example", "lee@contoso.example"


def _book(engine: Engine) -> None:
    f.user(engine, "u1", ANA, "Ana Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", DANA, "Dana Ruiz", "a1")
    f.contact(engine, "c2", LEE, "Lee Park", "a1")
    f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(1), activity_id="e1")
    f.email(
        engine,
        sender=ANA,
        to=[LEE],
        at=f.days_ago(2),
        activity_id="e2",
        regarding=("account", "a1"),
    )
    f.email(engine, sender="stranger@elsewhere.example", to=[ANA], at=f.days_ago(3))


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


def _pending(engine: Engine) -> set[tuple[str, str]]:
    with session_scope(engine) as session:
        return pending_records(session)


def test_a_first_ingest_leaves_every_record_it_wrote_pending_and_no_log(engine: Engine) -> None:
    _book(engine)

    report = ingest_crm_activities(engine, now=f.NOW)

    assert report.counts.added == 2
    assert _pending(engine) == {
        ("system_user", "u1"),
        ("contact", "c1"),
        ("contact", "c2"),
        ("account", "a1"),
    }
    assert _count(engine, "interaction_change") == 0
    assert _count(engine, "crm_activity_change") == 0  # read in full: the log is spent
    assert _count(engine, "interaction_log_pause") == 0


def test_writers_after_a_first_ingest_are_logged_again(engine: Engine) -> None:
    _book(engine)
    ingest_crm_activities(engine, now=f.NOW)
    record = InteractionRecord(
        key="msg:<x@contoso.example>",
        source="exchange",
        kind="email",
        direction="inbound",
        occurred_at=f.days_ago(1),
        parties=frozenset({PartyRow("contact", "c1", "from", "external")}),
    )

    with session_scope(engine) as session:
        insert_interactions(session=session, records=[record])

    assert _count(engine, "interaction_change") == 1


def test_a_later_ingest_logs_and_pends_only_what_it_changed(engine: Engine) -> None:
    _book(engine)
    ingest_crm_activities(engine, now=f.NOW)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM tick_pending_record"))
        connection.execute(sa.text("UPDATE crm_activity SET opens = 4 WHERE id = 'e1'"))

    report = ingest_crm_activities(engine, now=f.NOW)

    assert report.incremental and report.counts.updated == 1
    assert _pending(engine) == {("system_user", "u1"), ("contact", "c1")}


def test_a_first_ingest_keeps_only_the_rows_with_a_problem_for_rechecking(engine: Engine) -> None:
    _book(engine)
    f.email(engine, sender=ANA, to=[DANA], at=f.NOW + timedelta(days=3), activity_id="e-ahead")
    with engine.begin() as connection:  # left by an earlier store, e1 since corrected
        connection.execute(sa.text("INSERT INTO crm_activity_recheck VALUES ('e1')"))

    report = ingest_crm_activities(engine, now=f.NOW)

    assert report.problems.count == 1
    with engine.connect() as connection:
        rechecks = connection.execute(sa.text("SELECT activity_id FROM crm_activity_recheck"))
        assert set(rechecks.scalars()) == {"e-ahead"}
