"""KPI rows written by hand (COPY lines on PostgreSQL) keep every value exactly."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from scoring.model import Kpis
from storage.crm_tables import Contact
from storage.kpi_rows import KPI_VALUES, JsonColumn, KpiValues, kpi_digest
from storage.rapport_tables import HealthSnapshot, RelationshipKpi
from storage.types import core_table
from storage.writeback import RecordResult, write_back
from tests import factories as f

KPI = core_table(RelationshipKpi)
SNAPSHOT = core_table(HealthSnapshot)
ODD = 'tab\there, newline\nthere, cr\r, backslash \\N and \\ "quoted" ünï € \u2028'
ODD_ID = "c\t1\\N\n"
PLAIN_ID = "c2"
AT = datetime(2026, 11, 20, 12, 30, 1, 250, tzinfo=UTC)


def _week(start: str, emails: int) -> dict[str, Any]:
    return {
        "week_start": start,
        "emails_sent": emails,
        "emails_received": 0,
        "meetings": 1,
        "phone_calls": 0,
    }


def _full(**overrides: Any) -> KpiValues:
    """Every column set, with characters COPY's text format must escape."""
    values = KpiValues(
        emails_sent=3,
        emails_received=2,
        meetings_sent=1,
        meetings_received=0,
        phone_calls_made=4,
        phone_calls_received=5,
        replies_by_us=6,
        replies_by_them=7,
        time_spent_by_team_minutes=0.1,
        time_spent_by_customer_minutes=1e16,
        avg_first_response_by_us_hours=1e-05,
        avg_first_response_by_them_hours=2.5,
        response_rate_by_us=0.30000000000000004,
        response_rate_by_them=1.0,
        last_activity_at=AT,
        last_activity_kind="email",
        last_activity_direction="inbound",
        next_activity_at=AT + timedelta(days=3),
        next_activity_kind="meeting",
        email_opens=8,
        email_clicks=9,
        weekly=JsonColumn([_week("2026-11-09", 1), _week("2026-11-16", 0)]),
        most_contacted=JsonColumn([{"system_user_id": ODD, "interactions": 2}]),
        computation_accuracy="partial",
        health_score=71,
        health_state=0,
        health_trend=1,
        factors=JsonColumn(
            [{"name": "recency", "value": 0.1234, "weight": 0.35, "points": 4.32, "detail": ODD}]
        ),
        reasons=JsonColumn([ODD, "no meeting in 45 days"]),
        weakest_contact_id=ODD_ID,
        weakest_contact_role="decision maker",
        weakest_contact_score=38,
        weakest_contact_since=AT - timedelta(days=36),
    )
    return values._replace(**overrides)


def _empty() -> KpiValues:
    """Every nullable column null, every list empty."""
    return KpiValues(health_state=3, health_trend=3)


def _plain(values: KpiValues) -> dict[str, Any]:
    """What reading the row back must give."""
    return {
        name: json.loads(value.text) if isinstance(value, JsonColumn) else value
        for name, value in values._asdict().items()
    }


def _stored(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(KPI)).mappings().all()
    return {row["record_id"]: dict(row) for row in rows}


def _json_texts(engine: Engine, record_id: str) -> list[str]:
    columns = ("weekly", "most_contacted", "factors", "reasons")
    cast = "::text" if engine.dialect.name == "postgresql" else ""
    query = (
        f"SELECT {', '.join(c + cast for c in columns)} FROM relationship_kpi WHERE record_id = :id"
    )
    with engine.connect() as connection:
        return list(connection.execute(sa.text(query), {"id": record_id}).one())


def _expected_texts(engine: Engine, values: KpiValues) -> list[str]:
    """PostgreSQL keeps msgspec's encoding as sent; SQLite's JSON type uses json.dumps."""
    columns = (values.weekly, values.most_contacted, values.factors, values.reasons)
    if engine.dialect.name == "postgresql":
        return [c.text for c in columns]
    return [json.dumps(c.value) for c in columns]


def _results(full: KpiValues) -> list[RecordResult]:
    return [
        RecordResult("contact", ODD_ID, (71, 0, 1), full),
        RecordResult("contact", PLAIN_ID, (None, 3, 3), _empty()),
    ]


def test_every_kpi_value_comes_back_as_written(engine: Engine) -> None:
    f.contact(engine, ODD_ID, "a@x.example", "A")
    f.contact(engine, PLAIN_ID, "b@x.example", "B")

    counts = write_back(engine, _results(_full()), now=f.NOW)

    assert (counts.records_updated, counts.kpis_written, counts.snapshots_written) == (2, 2, 2)
    stored = _stored(engine)
    for record_id, values in ((ODD_ID, _full()), (PLAIN_ID, _empty())):
        row = stored[record_id]
        assert {name: row[name] for name in KPI_VALUES} == _plain(values)
        assert (row["kpi_digest"], row["computed_at"]) == (kpi_digest(values), f.NOW)
        assert _json_texts(engine, record_id) == _expected_texts(engine, values)
    with engine.connect() as connection:
        snapshots = connection.execute(sa.select(SNAPSHOT)).all()
        contacts = connection.execute(
            sa.text("SELECT id, health_score, health_state, health_trend FROM contact")
        ).all()
    assert sorted(tuple(row) for row in snapshots) == sorted(
        [
            ("contact", ODD_ID, f.NOW.date(), 71, 0, 1, None),
            ("contact", PLAIN_ID, f.NOW.date(), None, 3, 3, None),
        ]
    )
    assert sorted(tuple(row) for row in contacts) == sorted(
        [(ODD_ID, 71, 0, 1), (PLAIN_ID, None, 3, 3)]
    )


def test_an_unchanged_run_writes_nothing_and_a_changed_value_is_rewritten(
    engine: Engine,
) -> None:
    f.contact(engine, ODD_ID, "a@x.example", "A")
    f.contact(engine, PLAIN_ID, "b@x.example", "B")
    write_back(engine, _results(_full()), now=f.NOW)

    later = f.NOW + timedelta(hours=1)
    unchanged = write_back(engine, _results(_full()), now=later)
    changed = _full(
        weekly=JsonColumn([_week("2026-11-09", 1), _week("2026-11-16", 1)]),
        reasons=JsonColumn([ODD.upper()]),
        avg_first_response_by_us_hours=None,
        last_activity_direction=None,
    )
    rewritten = write_back(engine, _results(changed), now=later)
    settled = write_back(engine, _results(changed), now=later)

    assert (unchanged.kpis_written, unchanged.snapshots_written, unchanged.unchanged) == (0, 0, 2)
    assert (rewritten.kpis_written, rewritten.records_updated, rewritten.unchanged) == (1, 0, 1)
    assert (settled.kpis_written, settled.unchanged) == (0, 2)
    row = _stored(engine)[ODD_ID]
    assert {name: row[name] for name in KPI_VALUES} == _plain(changed)
    assert (row["kpi_digest"], row["computed_at"]) == (kpi_digest(changed), later)
    assert _json_texts(engine, ODD_ID) == _expected_texts(engine, changed)
    assert _stored(engine)[PLAIN_ID]["computed_at"] == f.NOW


def test_a_changed_health_reaches_record_and_snapshot_of_the_day(engine: Engine) -> None:
    f.contact(engine, ODD_ID, "a@x.example", "A")
    write_back(engine, [RecordResult("contact", ODD_ID, (71, 0, 1), _full())], now=f.NOW)

    worse = _full(health_score=35, health_state=2, health_trend=2)
    later = f.NOW + timedelta(hours=1)
    write_back(engine, [RecordResult("contact", ODD_ID, (35, 2, 2), worse)], now=later)

    with engine.connect() as connection:
        snapshot = connection.execute(sa.select(SNAPSHOT)).one()
        health = connection.execute(
            sa.text("SELECT health_score, health_state, health_trend FROM contact")
        ).one()
    assert tuple(snapshot) == ("contact", ODD_ID, f.NOW.date(), 35, 2, 2, None)
    assert tuple(health) == (35, 2, 2)


def test_the_digest_is_the_one_earlier_runs_stored() -> None:
    """Digests were blake2b over the values encoded as one JSON array: still the same
    bytes, so the first run after an upgrade rewrites nothing."""
    for values in (_full(), _empty()):
        plain = [v.value if isinstance(v, JsonColumn) else v for v in values]
        expected = hashlib.blake2b(msgspec.json.encode(plain), digest_size=16).hexdigest()
        assert kpi_digest(values) == expected


def test_equal_values_give_equal_digests_and_any_change_another() -> None:
    assert kpi_digest(_full()) == kpi_digest(_full())
    changes: list[dict[str, Any]] = [
        {"emails_sent": 4},
        {"time_spent_by_team_minutes": 0.2},
        {"avg_first_response_by_us_hours": None},
        {"last_activity_at": AT + timedelta(microseconds=1)},
        {"weekly": JsonColumn([_week("2026-11-09", 1)])},
        {"reasons": JsonColumn([ODD, "no meeting in 46 days"])},
        {"health_score": None},
    ]
    digests = {kpi_digest(_full(**change)) for change in changes}
    assert len(digests) == len(changes) and kpi_digest(_full()) not in digests


def test_kpi_values_follow_the_table_columns() -> None:
    """The digest encodes values in this order, so it must not drift from the table's."""
    written = ("record_type", "record_id", "computed_at", "kpi_digest")
    assert KPI_VALUES == tuple(c.name for c in KPI.columns if c.name not in written)


def test_the_kpi_columns_are_scorings_kpis_then_the_health() -> None:
    """The KPI field list is defined once, by scoring.model.Kpis: relationship_kpi (and
    KpiValues, in the table's order) holds those fields first, in that order, a value
    Kpis may lack in a nullable column; the health columns follow. storage imports
    nothing of ours (docs/architecture.md), so this is where the two are held together:
    a KPI added to Kpis fails here until the table has it, and
    tests/storage/test_migrations.py until a migration adds it."""
    kpis = dataclasses.fields(Kpis)
    assert KPI_VALUES[: len(kpis)] == tuple(field.name for field in kpis)
    assert KPI_VALUES[len(kpis)] == "health_score"


def test_a_kpi_that_may_be_missing_has_a_nullable_column() -> None:
    """A value Kpis may lack is held in a nullable column (see the test above)."""
    kpis = dataclasses.fields(Kpis)
    hints = typing.get_type_hints(Kpis)
    for field in kpis:
        column = KPI.c[field.name]
        optional = type(None) in typing.get_args(hints[field.name])
        # The JSON lists (the weekly timeline, the top colleagues) are nullable in SQL only.
        assert column.nullable == optional or isinstance(column.type, sa.JSON), field.name


# The scalars of a row are written from one JSON encoding of them all
# (storage.kpi_rows._scalar_fields) unless a value would not read the same that way.
AWKWARD_SCALARS: list[dict[str, Any]] = [
    {"weakest_contact_id": "plain-id"},  # every value set, nothing awkward
    {"weakest_contact_id": "a,b"},
    {"weakest_contact_id": "null"},
    {"weakest_contact_id": 'say "hi"'},
    {"weakest_contact_id": "ünï € \u2028", "computation_accuracy": ""},
    {"last_activity_kind": "null,null", "weakest_contact_id": None},
    {"time_spent_by_team_minutes": float("inf"), "response_rate_by_us": float("-inf")},
    {"avg_first_response_by_us_hours": 5e-324, "time_spent_by_customer_minutes": -0.0},
]


@pytest.mark.parametrize("overrides", AWKWARD_SCALARS, ids=lambda o: repr(o)[:40])
def test_scalars_come_back_as_written_however_they_are_encoded(
    engine: Engine, overrides: dict[str, Any]
) -> None:
    values = _full(**overrides)
    f.contact(engine, PLAIN_ID, "b@x.example", "B")

    write_back(engine, [RecordResult("contact", PLAIN_ID, (71, 0, 1), values)], now=f.NOW)

    row = _stored(engine)[PLAIN_ID]
    assert {name: row[name] for name in KPI_VALUES} == _plain(values)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_nan_is_written_as_nan_not_as_null(engine: Engine) -> None:
    """JSON has no NaN (msgspec writes null): such a row is formatted value by value.
    PostgreSQL only: SQLite stores a NaN as NULL whatever is sent."""
    values = _full(avg_first_response_by_us_hours=float("nan"))
    f.contact(engine, PLAIN_ID, "b@x.example", "B")

    write_back(engine, [RecordResult("contact", PLAIN_ID, (71, 0, 1), values)], now=f.NOW)

    stored = _stored(engine)[PLAIN_ID]["avg_first_response_by_us_hours"]
    assert stored is not None and math.isnan(stored)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_large_json_values_are_compressed_with_lz4(engine: Engine) -> None:
    """A row past PostgreSQL's compression threshold has its JSON compressed with lz4
    (faster to write than the default pglz), and reads back the same."""
    weeks = [
        _week(f"2026-{month:02d}-{day:02d}", day) for month in (1, 2, 3) for day in range(1, 29)
    ]
    values = _full(weekly=JsonColumn(weeks))
    f.contact(engine, PLAIN_ID, "b@x.example", "B")

    write_back(engine, [RecordResult("contact", PLAIN_ID, (71, 0, 1), values)], now=f.NOW)

    with engine.connect() as connection:
        method = connection.execute(
            sa.text("SELECT pg_column_compression(weekly) FROM relationship_kpi")
        ).scalar()
    assert method == "lz4"
    assert {name: _stored(engine)[PLAIN_ID][name] for name in KPI_VALUES} == _plain(values)


def test_awkward_scalars_among_plain_rows_of_one_batch_come_back_as_written(
    engine: Engine,
) -> None:
    """A batch's scalars are made into COPY fields all at once; a row that cannot be
    (see AWKWARD_SCALARS) is found and formatted on its own, its neighbours unharmed."""
    rows = [_full(emails_sent=n) for n in range(3)]
    rows += [_full(emails_sent=n, **overrides) for n, overrides in enumerate(AWKWARD_SCALARS)]
    rows += [_empty(), _full(emails_sent=99)]
    ids = [f"c{n}" for n in range(len(rows))]
    people = ({"id": i, "email": f"{i}@x.example", "full_name": i} for i in ids)
    f.insert(engine, Contact, *people)

    results = [
        RecordResult("contact", record_id, (71, 0, 1), values)
        for record_id, values in zip(ids, rows, strict=True)
    ]
    write_back(engine, results, now=f.NOW)

    stored = _stored(engine)
    for record_id, values in zip(ids, rows, strict=True):
        assert {name: stored[record_id][name] for name in KPI_VALUES} == _plain(values)
