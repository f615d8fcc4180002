"""The digests' outcome counts kept in tick_state are a count of the digests (migration 0016).

A pass brings them up to date from what it wrote instead of counting a
million digests on every tick; where they are missing (after the upgrade, a
first ingest) it counts, and a digest table written by anyone else makes the
next pass a full one. After any sequence of changes the kept counts must be
what counting gives, and an incremental pass must report what a full pass does.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from storage.crm_digests import digest_count, outcome_counts
from storage.crm_ingest import CrmIngestReport, _crossed_bounds, ingest_crm_activities
from storage.crm_tables import CrmActivity, CrmActivityParty
from storage.engine import session_scope
from storage.tick_changes import read_state
from storage.types import core_table
from tests import factories as f
from tests.factories import POSTGRES_ONLY

ACTIVITY, PARTY = core_table(CrmActivity), core_table(CrmActivityParty)
ANA, DANA, LEE = "ana@ours.example", "dana@contoso.example", "lee@contoso.example"


def _book(engine: Engine) -> None:
    f.user(engine, "u1", ANA, "Ana Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", DANA, "Dana Ruiz", "a1")
    for day in (1, 2, 45, 90):
        f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(day), activity_id=f"e{day}")


def _execute(engine: Engine, statement: Any) -> None:
    with engine.begin() as connection:
        connection.execute(statement if not isinstance(statement, str) else sa.text(statement))


def _assert_kept_counts_are_a_count(engine: Engine) -> None:
    with session_scope(engine) as session:
        state = read_state(session)
        counted = outcome_counts(session=session)
        assert state.crm_digests == digest_count(session=session)
        if state.crm_outcomes is not None:
            assert state.crm_outcomes == counted


def is_postgres_engine(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _ingest(engine: Engine, cutoff_days: float = 60) -> CrmIngestReport:
    report = ingest_crm_activities(engine, not_before=f.days_ago(cutoff_days), now=f.NOW)
    _assert_kept_counts_are_a_count(engine)
    return report


def test_a_pass_keeps_the_counts_and_the_next_one_goes_on_from_them(engine: Engine) -> None:
    _book(engine)
    _ingest(engine)  # a first ingest (on PostgreSQL in SQL): counted by the next pass
    _ingest(engine)
    with session_scope(engine) as session:
        assert read_state(session).crm_outcomes == {"beyond_retention": 1, "interaction": 3}

    _execute(engine, sa.update(ACTIVITY).where(ACTIVITY.c.id == "e1").values(status="cancelled"))
    _execute(engine, sa.update(ACTIVITY).where(ACTIVITY.c.id == "e2").values(kind="fax"))
    f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(3), activity_id="new")
    report = _ingest(engine, cutoff_days=100)  # e90 comes back within the window

    assert report.incremental
    with session_scope(engine) as session:
        assert read_state(session).crm_outcomes == {"interaction": 3, "none": 1}
    assert (report.activities, report.beyond_retention) == (5, 0)


def test_without_kept_counts_a_pass_counts_and_stays_incremental(engine: Engine) -> None:
    """As on the first tick after the upgrade (migration 0016 leaves them NULL)."""
    _book(engine)
    _ingest(engine)
    _ingest(engine)
    _execute(engine, "UPDATE tick_state SET crm_outcomes = NULL")
    f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(3), activity_id="new")

    report = _ingest(engine)

    assert report.incremental and report.derived == 1
    with session_scope(engine) as session:
        assert read_state(session).crm_outcomes == {"beyond_retention": 1, "interaction": 4}


def test_digests_written_by_anyone_but_a_pass_make_the_next_pass_a_full_one(
    engine: Engine,
) -> None:
    _book(engine)
    _ingest(engine)
    _ingest(engine)
    # One digest changed by hand: the count still agrees, the table is not what was left.
    _execute(engine, "UPDATE crm_activity_digest SET digest = 'x' WHERE activity_id = 'e1'")

    report = _ingest(engine)

    assert not report.incremental and report.derived == 1  # read every activity
    assert report.tables_changed == frozenset()  # not a record table: no regrade
    assert _ingest(engine).incremental


# SQLite compares the CRM's text by day, unindexed (migration 0016).
@POSTGRES_ONLY
def test_the_index_on_the_activities_time_serves_the_crossed_bounds(engine: Engine) -> None:
    with engine.begin() as connection:
        where = _crossed_bounds(True, ((f.days_ago(60), f.days_ago(59)),), ())
        # An empty table: a sequential scan would be cheaper, so ask for the index.
        connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = connection.execute(sa.text(f"EXPLAIN SELECT id FROM crm_activity WHERE {where}"))
        assert any("ix_crm_activity_occurred_at" in line for line in plan.scalars()), where


@POSTGRES_ONLY  # heap-only updates are PostgreSQL's
def test_the_tables_a_pass_rewrites_leave_room_for_updates_in_place(engine: Engine) -> None:
    with engine.connect() as connection:
        options: dict[str, list[str]] = dict(
            connection.execute(
                sa.text(
                    "SELECT relname, reloptions FROM pg_class"
                    " WHERE relname IN ('crm_activity_digest', 'interaction')"
                )
            ).all()
        )
    assert options == {name: ["fillfactor=90"] for name in ("crm_activity_digest", "interaction")}


# --- any sequence of changes ------------------------------------------------------------

which = st.integers(min_value=0, max_value=30)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.floats(min_value=0.5, max_value=120), st.booleans()),
        st.tuples(st.just("status"), which, st.sampled_from(("cancelled", "completed"))),
        st.tuples(st.just("move"), which, st.floats(min_value=0.5, max_value=120)),
        st.tuples(st.just("kind"), which, st.sampled_from(("fax", "email"))),
        st.tuples(st.just("delete"), which),
        st.tuples(st.just("forget"), which),  # a digest deleted by hand
        st.tuples(
            st.just("unkept"),
        ),  # the counts missing, as after the upgrade
        st.tuples(st.just("ingest"), st.sampled_from((30, 60, 100))),
    ),
    min_size=1,
    max_size=14,
)
_ids = iter(range(10**9))


def _activity(engine: Engine, number: int) -> str | None:
    with engine.connect() as connection:
        ids = list(connection.scalars(sa.select(ACTIVITY.c.id).order_by(ACTIVITY.c.id)))
    return ids[number % len(ids)] if ids else None


def _apply(engine: Engine, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "add":
        to = [DANA] if step[2] else [LEE]  # Lee is nobody's: no interaction
        f.email(engine, sender=ANA, to=to, at=f.days_ago(step[1]), activity_id=f"p{next(_ids)}")
    elif kind == "ingest":
        _ingest(engine, step[1])
    elif kind == "unkept":
        _execute(engine, "UPDATE tick_state SET crm_outcomes = NULL")
    elif (activity := _activity(engine, step[1])) is not None:
        by_id = ACTIVITY.c.id == activity
        if kind == "status":
            _execute(engine, sa.update(ACTIVITY).where(by_id).values(status=step[2]))
        elif kind == "move":
            at = f.days_ago(step[2])
            _execute(engine, sa.update(ACTIVITY).where(by_id).values(start_at=at, end_at=at))
        elif kind == "kind":
            _execute(engine, sa.update(ACTIVITY).where(by_id).values(kind=step[2]))
        elif kind == "delete":
            _execute(engine, sa.delete(PARTY).where(PARTY.c.activity_id == activity))
            _execute(engine, sa.delete(ACTIVITY).where(by_id))
        else:
            _execute(engine, f"DELETE FROM crm_activity_digest WHERE activity_id = '{activity}'")


@pytest.fixture
def book(engine: Engine) -> Engine:
    _book(engine)
    _ingest(engine)
    return engine


@pytest.mark.timeout(300)
@settings(
    max_examples=12,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=steps)
def test_after_any_changes_the_kept_counts_are_a_count_and_the_report_a_full_pass_s(
    book: Engine, changes: list[tuple[Any, ...]]
) -> None:
    for step in changes:
        _apply(book, step)
    report = _ingest(book, 60)
    again = _ingest(book, 60)  # nothing new: incremental, from the counts just kept
    full = ingest_crm_activities(book, not_before=f.days_ago(60), now=f.NOW, full=True)

    assert again.incremental
    with session_scope(book) as session:
        assert read_state(session).crm_outcomes is not None
    for incremental in (report, again):
        assert (incremental.activities, incremental.covered_by_exchange) == (
            full.activities,
            full.covered_by_exchange,
        )
        assert incremental.beyond_retention == full.beyond_retention
    assert again.counts.unchanged == full.counts.unchanged


def test_a_first_ingest_keeps_the_counts_of_what_it_derived_in_sql_and_here(
    engine: Engine,
) -> None:
    """On PostgreSQL a first ingest derives the clean activities in SQL
    (storage.crm_bulk_ingest) and the rest here: the counts are both's."""
    _book(engine)
    f.email(engine, sender=ANA, to=[DANA], at=f.days_ago(3), activity_id="odd")
    _execute(engine, sa.update(ACTIVITY).where(ACTIVITY.c.id == "odd").values(kind="fax"))
    f.email(engine, sender=ANA, to=[LEE], at=f.days_ago(4), activity_id="nobody's")

    first = _ingest(engine)  # every pass checks its counts against a count

    with session_scope(engine) as session:
        assert read_state(session).crm_outcomes == {
            "beyond_retention": 1,
            "interaction": 3,
            "none": 1,
        }
    assert (first.bulk > 0) == is_postgres_engine(engine)
    assert _ingest(engine).incremental


def test_a_moving_cutoff_is_read_from_the_index_and_counted(engine: Engine) -> None:
    _book(engine)
    _ingest(engine, 60)
    _ingest(engine, 60)

    report = _ingest(engine, 30)  # e45 falls behind the cutoff

    assert report.incremental and report.derived == 1
    with session_scope(engine) as session:
        assert read_state(session).crm_outcomes == {"beyond_retention": 2, "interaction": 2}
