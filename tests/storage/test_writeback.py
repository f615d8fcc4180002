"""Write-back: health fields, KPI rows and snapshots, only where something changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.crm_tables import Contact
from storage.kpi_rows import JsonColumn, KpiValues, kpi_digest
from storage.types import core_table
from storage.writeback import RecordResult, StoredState, load_stored_state, write_back
from tests import factories as f


def _kpi(**overrides: Any) -> KpiValues:
    """KPI values; list values (weekly, reasons...) are given as plain lists."""
    encoded: dict[str, Any] = {
        name: JsonColumn(value) if isinstance(value, list) else value
        for name, value in overrides.items()
    }
    return KpiValues(**encoded)


def _result(record_id: str, score: int, state: int = 0, **kpi: Any) -> RecordResult:
    return RecordResult(
        "contact",
        record_id,
        (score, state, 1),
        _kpi(health_score=score, health_state=state, health_trend=1, **kpi),
    )


def _contacts(engine: Engine) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as connection:
        table = core_table(Contact)
        rows = connection.execute(
            sa.select(
                table.c.id,
                table.c.health_score,
                table.c.health_state,
                table.c.health_trend,
                table.c.health_updated_at,
            )
        )
        return {row[0]: tuple(row[1:]) for row in rows}


def test_first_write_sets_fields_kpis_and_a_snapshot(engine: Engine) -> None:
    f.contact(engine, "c1", "a@x.example", "A")
    f.contact(engine, "c2", "b@x.example", "B")

    counts = write_back(
        engine, [_result("c1", 80, emails_sent=3), _result("c2", 20, state=2)], now=f.NOW
    )

    assert (counts.records_updated, counts.kpis_written, counts.snapshots_written) == (2, 2, 2)
    contacts = _contacts(engine)
    assert contacts["c1"][:3] == (80, 0, 1)
    assert contacts["c2"][:3] == (20, 2, 1)
    with engine.connect() as connection:
        sent = connection.execute(
            sa.text("SELECT emails_sent FROM relationship_kpi WHERE record_id = 'c1'")
        ).scalar()
        days = connection.execute(sa.text("SELECT day FROM health_snapshot")).scalars().all()
    assert sent == 3
    assert len(days) == 2


def test_rewrite_touches_only_changed_rows(engine: Engine) -> None:
    for n in range(5):
        f.contact(engine, f"c{n}", f"p{n}@x.example", f"P{n}")
    write_back(engine, [_result(f"c{n}", 50 + n) for n in range(5)], now=f.NOW)
    before = _contacts(engine)

    later = f.NOW + timedelta(hours=1)
    results = [_result(f"c{n}", 50 + n) for n in range(5)]
    results[3] = _result("c3", 10, state=2)
    counts = write_back(engine, results, now=later)

    after = _contacts(engine)
    assert counts.records_updated == 1 and counts.kpis_written == 1
    assert counts.unchanged == 4
    assert after["c3"] == (10, 2, 1, later)
    assert {k: v for k, v in after.items() if k != "c3"} == {
        k: v for k, v in before.items() if k != "c3"
    }


def test_snapshot_is_one_row_per_record_per_day(engine: Engine) -> None:
    f.contact(engine, "c1", "a@x.example", "A")
    write_back(engine, [_result("c1", 70)], now=f.NOW)
    write_back(engine, [_result("c1", 65)], now=f.NOW + timedelta(hours=2))
    write_back(engine, [_result("c1", 60)], now=f.NOW + timedelta(days=1))

    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT day, health_score FROM health_snapshot ORDER BY day")
        ).all()
    assert [(str(day), score) for day, score in rows] == [
        (str(f.NOW.date()), 65),
        (str((f.NOW + timedelta(days=1)).date()), 60),
    ]


def test_batches_commit_independently(engine: Engine) -> None:
    for n in range(250):
        f.insert(engine, *_contact_row(n))
    counts = write_back(
        engine, [_result(f"c{n}", n % 100) for n in range(250)], now=f.NOW, batch_size=100
    )
    assert counts.records_updated == 250
    assert sum(1 for v in _contacts(engine).values() if v[0] is not None) == 250


def _contact_row(n: int) -> tuple[Any, dict[str, Any]]:
    return Contact, {"id": f"c{n}", "email": f"p{n}@x.example", "full_name": f"P{n}"}


def test_a_kpi_change_outside_the_health_fields_is_written(engine: Engine) -> None:
    f.contact(engine, "c1", "a@x.example", "A")
    write_back(engine, [_result("c1", 70, reasons=["no meeting in 45 days"])], now=f.NOW)

    counts = write_back(engine, [_result("c1", 70, reasons=["no meeting in 46 days"])], now=f.NOW)

    assert (counts.records_updated, counts.kpis_written) == (0, 1)
    with engine.connect() as connection:
        reasons = connection.execute(sa.text("SELECT reasons FROM relationship_kpi")).scalar()
    assert reasons in (["no meeting in 46 days"], '["no meeting in 46 days"]')


def test_kpi_rows_without_a_digest_are_rewritten_once(engine: Engine) -> None:
    """Rows written before migration 0005 carry no digest."""
    f.contact(engine, "c1", "a@x.example", "A")
    write_back(engine, [_result("c1", 70, emails_sent=2)], now=f.NOW)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE relationship_kpi SET kpi_digest = NULL"))

    again = write_back(engine, [_result("c1", 70, emails_sent=2)], now=f.NOW)
    settled = write_back(engine, [_result("c1", 70, emails_sent=2)], now=f.NOW)

    assert (again.kpis_written, settled.kpis_written, settled.unchanged) == (1, 0, 1)


def test_a_rewrite_in_several_batches_writes_only_the_changed_record(engine: Engine) -> None:
    f.insert(engine, Contact, *(_contact_row(n)[1] for n in range(1_200)))
    first = [_result(f"c{n}", n % 100) for n in range(1_200)]
    write_back(engine, first, now=f.NOW, batch_size=1_000)

    again = [_result(f"c{n}", n % 100) for n in range(1_200)]
    again[1_100] = _result("c1100", 3, state=2)
    counts = write_back(engine, again, now=f.NOW, batch_size=1_000)

    assert (counts.records_updated, counts.kpis_written, counts.snapshots_written) == (1, 1, 1)
    assert counts.unchanged == 1_199
    assert _contacts(engine)["c1100"][:3] == (3, 2, 1)


def test_new_replaced_and_unchanged_rows_of_one_batch_are_each_records_own(
    engine: Engine,
) -> None:
    """A batch's rows are encoded together and only those that changed are written: each
    row written holds its own record's values and digest, whatever its neighbours did."""
    f.insert(engine, Contact, *(_contact_row(n)[1] for n in range(6)))
    write_back(engine, [_result(f"c{n}", 50, emails_sent=n) for n in (0, 1, 3, 5)], now=f.NOW)

    batch = [_result(f"c{n}", 50, emails_sent=n) for n in range(6)]
    batch[1] = _result("c1", 50, emails_sent=11)  # a KPI row replaced
    batch[3] = _result("c3", 20, state=2, emails_sent=3)  # health and KPI row replaced
    counts = write_back(engine, batch, now=f.NOW)  # c2, c4: new rows; c0, c5 unchanged

    assert (counts.records_updated, counts.kpis_written, counts.unchanged) == (3, 4, 2)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT record_id, emails_sent, kpi_digest FROM relationship_kpi")
        ).all()
    expected = {r.record_id: (r.kpi.emails_sent, kpi_digest(r.kpi)) for r in batch}
    assert {record_id: (sent, digest) for record_id, sent, digest in rows} == expected


def _stored(state: StoredState, records: set[tuple[str, str]]) -> tuple[dict[Any, Any], ...]:
    return tuple(
        {key: value for key, value in part.items() if key in records}
        for part in (state.health, state.kpis, state.snapshots)
    )


# Only PostgreSQL reads some records' state by key (SQLite reads it whole either way).
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_stored_state_of_some_records_is_what_the_whole_state_says_of_them(
    engine: Engine,
) -> None:
    # A lead and an account share a contact's id: each is told apart by its type.
    for n in range(6):
        f.contact(engine, f"c{n}", f"p{n}@x.example", f"P{n}")
    f.user(engine, "u1", "seller@ours.example", "Seller")
    f.lead(engine, "c1", "lead@x.example", "Lead", "u1")
    f.account(engine, "c2", "Account")
    written = [_result(f"c{n}", 40 + n) for n in range(6)]
    written += [
        RecordResult("lead", "c1", (11, 2, 0), _kpi(health_score=11)),
        RecordResult("account", "c2", (77, 0, 1), _kpi(health_score=77)),
    ]
    # The day before, other scores: only the day's snapshots are the state.
    write_back(engine, [_result(f"c{n}", 30 + n) for n in range(6)], now=f.NOW - timedelta(days=1))
    write_back(engine, written, now=f.NOW)
    wanted = {("contact", "c1"), ("contact", "c4"), ("account", "c2"), ("contact", "gone")}

    with Session(engine) as session:
        whole = load_stored_state(session=session, day=f.NOW.date())
        some = load_stored_state(session=session, day=f.NOW.date(), records=wanted)

    assert _stored(some, wanted) == _stored(whole, wanted)
    assert some.health[("account", "c2")] == (77, 0, 1)
    assert some.snapshots[("contact", "c4")] == (44, 0, 1)
    day_before = (f.NOW - timedelta(days=1)).date()
    with Session(engine) as session:
        whole = load_stored_state(session=session, day=day_before)
        some = load_stored_state(session=session, day=day_before, records=wanted)
    assert _stored(some, wanted) == _stored(whole, wanted)
    assert some.snapshots[("contact", "c4")] == (34, 0, 1)


def test_a_write_of_a_few_named_records_updates_them_and_leaves_the_rest(
    engine: Engine,
) -> None:
    for n in range(5):
        f.contact(engine, f"c{n}", f"p{n}@x.example", f"P{n}")
    write_back(engine, [_result(f"c{n}", 50 + n) for n in range(5)], now=f.NOW)
    before = _contacts(engine)

    later = f.NOW + timedelta(hours=1)  # the same day: its snapshot is updated, not added
    named = [("contact", "c1"), ("contact", "c3")]
    counts = write_back(
        engine, [_result("c1", 51), _result("c3", 10, state=2)], now=later, records=named
    )

    after = _contacts(engine)
    assert (counts.records_updated, counts.kpis_written, counts.unchanged) == (1, 1, 1)
    assert after["c3"] == (10, 2, 1, later)
    assert {k: v for k, v in after.items() if k != "c3"} == {
        k: v for k, v in before.items() if k != "c3"
    }
    with engine.connect() as connection:
        snapshots = connection.execute(
            sa.text("SELECT record_id, health_score FROM health_snapshot ORDER BY record_id")
        ).all()
    assert [tuple(row) for row in snapshots] == [
        ("c0", 50),
        ("c1", 51),
        ("c2", 52),
        ("c3", 10),
        ("c4", 54),
    ]


def test_a_batch_naming_a_record_twice_is_refused_before_anything_is_written(
    engine: Engine,
) -> None:
    f.contact(engine, "c1", "a@x.example", "A")

    with pytest.raises(ValueError, match="more than once"):
        write_back(engine, [_result("c1", 80), _result("c1", 20)], now=f.NOW)

    assert _contacts(engine)["c1"][:3] == (None, None, None)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM relationship_kpi")).scalar() == 0


def test_a_record_in_two_batches_is_written_as_the_later_one_says(engine: Engine) -> None:
    f.contact(engine, "c1", "a@x.example", "A")

    counts = write_back(engine, [_result("c1", 80), _result("c1", 20)], now=f.NOW, batch_size=1)

    assert (counts.kpis_written, counts.snapshots_written) == (2, 2)
    assert _contacts(engine)["c1"][:3] == (20, 0, 1)
    with engine.connect() as connection:
        scores = connection.execute(sa.text("SELECT health_score FROM relationship_kpi")).all()
    assert scores == [(20,)]


def test_a_stored_state_that_cannot_be_read_fails_the_write_back_with_nothing_to_write(
    engine: Engine,
) -> None:
    # PostgreSQL reads the stored state from a thread of its own: its failure must reach
    # the caller even when no batch ever asks for the state.
    with engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE health_snapshot RENAME TO health_snapshot_away"))
    try:
        with pytest.raises(sa.exc.DatabaseError, match="health_snapshot"):
            write_back(engine, [], now=f.NOW)
    finally:
        with engine.begin() as connection:
            connection.execute(
                sa.text("ALTER TABLE health_snapshot_away RENAME TO health_snapshot")
            )
