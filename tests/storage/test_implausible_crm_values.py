"""CRM values a datetime or an int can hold but a conversation cannot (issue 15, item 5).

Each is handled as docs/crm-contract.md ("Values Rapport refuses") says and
reported by table, id and column, on every run until the CRM corrects it;
none is stored as it is, none is dropped without a word.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from compliance.erase import erase_subject
from storage.crm_tables import CrmActivityParty
from tests import factories as f
from worker.run.tick import RunSummary, run_once

NOW = f.NOW
# PostgreSQL's integer holds up to 2**31 - 1; SQLite keeps any size.
HUGE = {"sqlite": 10**11, "postgresql": 2_000_000_000}


def _book(engine: Engine) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz", "a1")
    f.contact(engine, "c2", "lee@contoso.example", "Lee Park", "a1")
    for days in (2, 9, 16):
        f.email(
            engine,
            sender="ana@ours.example",
            to=["dana@contoso.example"],
            at=f.days_ago(days),
            activity_id=f"dana-{days}",
        )
        f.email(
            engine,
            sender="ana@ours.example",
            to=["lee@contoso.example"],
            at=f.days_ago(days),
            activity_id=f"lee-{days}",
        )


def _write(engine: Engine, table: str, row_id: str, **values: Any) -> None:
    """Write values as the CRM would, past every check Rapport's own models make."""
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    with engine.begin() as connection:
        connection.execute(
            sa.text(f"UPDATE {table} SET {assignments} WHERE id = :row_id"),
            {**values, "row_id": row_id},
        )


def _report(summary: RunSummary) -> dict[tuple[str, str, str], str]:
    """(table, row id, column) -> what the run did with the value."""
    return {(p.table, p.row_id, p.column): p.handling for p in summary.ingest.problems}


def _one(engine: Engine, query: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.text(query), params).one()


def _utc(value: Any) -> datetime:
    """A stored timestamp as aware UTC (SQLite returns the naive text's datetime)."""
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_a_meeting_ending_in_year_9999_counts_one_day_of_time_spent(engine: Engine) -> None:
    _book(engine)
    f.meeting(
        engine,
        organizer="ana@ours.example",
        attendees={"dana@contoso.example": "accepted"},
        start=f.days_ago(4),
        activity_id="endless",
    )
    f.meeting(
        engine,
        organizer="ana@ours.example",
        attendees={"lee@contoso.example": "accepted"},
        start=f.days_ago(5),
        activity_id="backwards",
    )
    _write(engine, "crm_activity", "endless", end_at=datetime(9999, 12, 31, tzinfo=UTC))
    _write(engine, "crm_activity", "backwards", end_at=f.days_ago(6))

    for _ in range(2):  # reported again until the CRM is corrected
        summary = run_once(engine, now=NOW)
        assert _report(summary) == {
            ("crm_activity", "endless", "end_at"): "time spent counted as 24 hours",
            ("crm_activity", "backwards", "end_at"): "ignored: no time spent counted",
        }
    endless = _one(engine, "SELECT duration_minutes FROM interaction WHERE key = 'crm:endless'")
    backwards = _one(engine, "SELECT duration_minutes FROM interaction WHERE key = 'crm:backwards'")
    assert (endless[0], backwards[0]) == (24 * 60, 0)
    (team_minutes,) = _one(
        engine, "SELECT time_spent_by_team_minutes FROM relationship_kpi WHERE record_id = 'c1'"
    )
    assert 24 * 60 <= team_minutes < 25 * 60  # the day, and a few minutes for the emails


def test_engagement_counts_outside_their_bounds_count_as_zero(engine: Engine) -> None:
    _book(engine)
    _write(engine, "crm_activity", "dana-2", opens=3, clicks=1)
    _write(engine, "crm_activity", "dana-9", opens=-4)
    _write(engine, "crm_activity", "dana-16", clicks=HUGE[engine.dialect.name])

    summary = run_once(engine, now=NOW)

    assert _report(summary) == {
        ("crm_activity", "dana-9", "opens"): "counted as 0",
        ("crm_activity", "dana-16", "clicks"): "counted as 0",
    }
    opens, clicks = _one(
        engine, "SELECT email_opens, email_clicks FROM relationship_kpi WHERE record_id = 'c1'"
    )
    assert (opens, clicks) == (3, 1)


def test_a_time_written_with_an_offset_is_stored_in_utc(engine: Engine) -> None:
    _book(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE crm_activity SET start_at = :at, end_at = :at WHERE id = 'dana-2'"),
            {"at": "2026-11-10T10:00:00+05:00"},
        )

    summary = run_once(engine, now=NOW)

    assert not summary.ingest.problems
    (occurred_at,) = _one(engine, "SELECT occurred_at FROM interaction WHERE key = 'crm:dana-2'")
    assert _utc(occurred_at) == datetime(2026, 11, 10, 5, 0, tzinfo=UTC)


def test_a_completed_activity_dated_in_the_future_is_not_the_next_activity(
    engine: Engine,
) -> None:
    _book(engine)
    f.email(
        engine,
        sender="ana@ours.example",
        to=["dana@contoso.example"],
        at=datetime(2030, 1, 15, tzinfo=UTC),
        activity_id="from-2030",
    )
    f.email(
        engine,
        sender="ana@ours.example",
        to=["lee@contoso.example"],
        status="open",
        at=datetime(2100, 1, 15, tzinfo=UTC),
        activity_id="from-2100",
    )
    f.email(
        engine,
        sender="ana@ours.example",
        to=["lee@contoso.example"],
        status="open",
        at=NOW + timedelta(days=30),
        activity_id="planned",
    )
    f.email(
        engine,
        sender="ana@ours.example",
        to=["lee@contoso.example"],
        at=datetime(1900, 1, 1, tzinfo=UTC),
        activity_id="from-1900",
    )

    summary = run_once(engine, now=NOW)

    assert _report(summary) == {
        ("crm_activity", "from-2030", "start_at"): "row skipped until that time has come",
        ("crm_activity", "from-2100", "start_at"): "row skipped",
        ("crm_activity", "from-1900", "start_at"): "row skipped",
    }
    kpis = "SELECT next_activity_at FROM relationship_kpi WHERE record_id = :record"
    assert _one(engine, kpis, record="c1")[0] is None
    assert _utc(_one(engine, kpis, record="c2")[0]) == NOW + timedelta(days=30)
    # Once its date has come, the completed activity is taken in like any other.
    later = run_once(engine, now=datetime(2030, 1, 16, tzinfo=UTC))
    assert ("crm_activity", "from-2030", "start_at") not in _report(later)


def test_parties_and_owners_that_name_no_record_are_reported(engine: Engine) -> None:
    _book(engine)
    f.insert(
        engine,
        CrmActivityParty,
        {
            "activity_id": "dana-2",
            "role": "cc",
            "address": "dana@contoso.example",
            "record_type": "contact",
            "record_id": "c-gone",
        },
        {
            "activity_id": "dana-2",
            "role": "cc",
            "address": None,
            "record_type": "account",
            "record_id": "a1",
        },
    )
    _write(engine, "crm_activity", "lee-2", owner_id="u-gone")

    summary = run_once(engine, now=NOW)

    party_ids = _party_ids(engine, "dana-2")
    assert _report(summary) == {
        (
            "crm_activity_party",
            f"{party_ids[-2]} (activity dana-2)",
            "record_id",
        ): "reference ignored; matched by address",
        (
            "crm_activity_party",
            f"{party_ids[-1]} (activity dana-2)",
            "record_type",
        ): "reference ignored; matched by address",
        ("crm_activity", "lee-2", "owner_id"): "ignored: the activity has no owner",
    }
    with engine.connect() as connection:
        stored = set(
            connection.execute(
                sa.text(
                    "SELECT record_id, role FROM interaction_party "
                    "WHERE interaction_key = 'crm:dana-2'"
                )
            )
        )
    assert stored == {("u1", "from"), ("c1", "to"), ("c1", "cc")}  # matched by its address


def _party_ids(engine: Engine, activity_id: str) -> list[int]:
    with engine.connect() as connection:
        query = "SELECT id FROM crm_activity_party WHERE activity_id = :id ORDER BY id"
        return list(connection.scalars(sa.text(query), {"id": activity_id}))


def test_an_erased_contact_named_by_a_party_is_not_reported(engine: Engine) -> None:
    _book(engine)
    f.call(engine, owner="u1", contact_id="c2", at=f.days_ago(1))
    erase_subject(engine, "contact:c2", now=NOW, dry_run=False)

    summary = run_once(engine, now=NOW)

    assert not summary.ingest.problems


def test_statuses_and_creation_times_outside_the_contract(engine: Engine) -> None:
    _book(engine)
    f.lead(engine, "l1", "kim@prospect.example", "Kim Lead", "u1")
    f.lead(engine, "l2", "max@prospect.example", "Max Lead", "u1", status="maybe")
    f.opportunity(engine, "o1", "a1", "u1", "c1", status="pending")
    _write(engine, "contact", "c1", created_at=datetime(1900, 1, 1, tzinfo=UTC))
    _write(engine, "contact", "c2", created_at=datetime(9999, 1, 1, tzinfo=UTC))

    summary = run_once(engine, now=NOW)

    assert _report(summary) == {
        ("lead", "l2", "status"): "not scored: keeps the health it had",
        ("opportunity", "o1", "status"): "not scored: keeps the health it had",
        ("contact", "c1", "created_at"): "read as unknown",
        ("contact", "c2", "created_at"): "read as unknown",
    }
    assert summary.records_scored == 4  # c1, c2 (their creation unknown), a1, l1
    assert summary.ingest.problems.by_column == {
        "lead.status": 1,
        "opportunity.status": 1,
        "contact.created_at": 2,
    }
