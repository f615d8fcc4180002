"""A CRM row whose values cannot be read never stops a run (issue 15, item 4).

The CRM writes its tables itself: SQLite keeps any text or number in a
timestamp column, PostgreSQL keeps 'infinity' and years no Python datetime
holds. Such a row is reported by table, id and column and skipped; the run
completes, scores everything else and keeps what was stored for the row.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage import raw_rows
from storage.crm_tables import CrmActivity
from tests import factories as f
from tests.worker.cli_runner import run_cli
from worker.run.tick import RunSummary, run_once

# Per database, values a CRM can write into a timestamp column and no datetime can hold.
UNREADABLE = {
    "sqlite": ("not a date", 20261120, "2026-02-30 10:00:00"),
    "postgresql": ("infinity", "-infinity", "20000-01-01 00:00:00+00"),
}


def _book(engine: Engine) -> None:
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz", "a1")
    f.contact(engine, "c2", "lee@contoso.example", "Lee Park", "a1")
    f.lead(engine, "l1", "kim@prospect.example", "Kim Lead", "u1")
    f.opportunity(engine, "o1", "a1", "u1", "c1")
    for contact in ("dana", "lee", "kim"):
        for days in (3, 10):
            f.email(
                engine,
                sender="ana@ours.example",
                to=[f"{contact}@{'prospect' if contact == 'kim' else 'contoso'}.example"],
                at=f.days_ago(days),
                activity_id=f"{contact}-{days}",
            )


def _write(engine: Engine, table: str, row_id: str, column: str, value: Any) -> None:
    """Write a value as the CRM would, past every check Rapport's own models make."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
            {"value": value, "id": row_id},
        )


def _reported(summary: RunSummary) -> set[tuple[str, str, str]]:
    return {(p.table, p.row_id, p.column) for p in summary.ingest.problems}


def _stored_keys(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(sa.text("SELECT key FROM interaction")))


def _health(engine: Engine, table: str, row_id: str) -> tuple[Any, ...]:
    with engine.connect() as connection:
        return tuple(
            connection.execute(
                sa.text(f"SELECT health_score, health_updated_at FROM {table} WHERE id = :id"),
                {"id": row_id},
            ).one()
        )


def test_unreadable_activity_times_skip_only_their_rows(engine: Engine) -> None:
    _book(engine)
    run_once(engine, now=f.NOW)
    before = _stored_keys(engine)
    garbage = UNREADABLE[engine.dialect.name]
    for activity, column, value in zip(
        ("dana-3", "lee-3", "kim-3"), ("start_at", "end_at", "modified_at"), garbage, strict=True
    ):
        _write(engine, "crm_activity", activity, column, value)

    summary = run_once(engine, now=f.NOW, regrade_every=None)  # every record scored

    assert _reported(summary) == {
        ("crm_activity", "dana-3", "start_at"),
        ("crm_activity", "lee-3", "end_at"),
        ("crm_activity", "kim-3", "modified_at"),
    }
    assert all(p.handling == "row skipped" for p in summary.ingest.problems)
    assert summary.ingest.activities == 6
    assert _stored_keys(engine) == before  # what was stored for the skipped rows stays
    assert summary.records_scored == 5  # two contacts, the account, the lead, the deal


def test_a_new_unreadable_activity_is_reported_and_the_rest_scored(engine: Engine) -> None:
    _book(engine)
    f.email(
        engine,
        sender="ana@ours.example",
        to=["dana@contoso.example"],
        at=f.days_ago(1),
        activity_id="broken",
    )
    _write(engine, "crm_activity", "broken", "start_at", UNREADABLE[engine.dialect.name][0])

    summary = run_once(engine, now=f.NOW)

    assert _reported(summary) == {("crm_activity", "broken", "start_at")}
    assert "crm:broken" not in _stored_keys(engine)
    assert len(_stored_keys(engine)) == 6
    assert summary.records_scored == 5
    assert _health(engine, "contact", "c1")[0] is not None


def test_unreadable_rows_between_readable_ones_in_any_read_batch(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL fails a whole fetch for one value: the read resumes after the last row
    it gave, so rows before, between and after bad ones are all taken in once."""
    _book(engine)
    monkeypatch.setattr(raw_rows, "BATCH", 2)
    garbage = UNREADABLE[engine.dialect.name]
    # By id: dana-10, dana-3 | kim-10, kim-3 | lee-10, lee-3; the first batch reads well.
    for activity, value in zip(("kim-10", "kim-3", "lee-3"), garbage, strict=True):
        _write(engine, "crm_activity", activity, "start_at", value)

    summary = run_once(engine, now=f.NOW)

    assert _reported(summary) == {
        ("crm_activity", "kim-10", "start_at"),
        ("crm_activity", "kim-3", "start_at"),
        ("crm_activity", "lee-3", "start_at"),
    }
    assert summary.ingest.activities == 6
    assert _stored_keys(engine) == {"crm:dana-10", "crm:dana-3", "crm:lee-10"}


def test_a_record_whose_creation_time_is_unreadable_keeps_its_health(engine: Engine) -> None:
    _book(engine)
    run_once(engine, now=f.NOW)
    garbage = UNREADABLE[engine.dialect.name]
    broken = {"contact": "c2", "lead": "l1", "opportunity": "o1", "account": "a1"}
    stored = {table: _health(engine, table, row_id) for table, row_id in broken.items()}
    for (table, row_id), value in zip(broken.items(), (*garbage, garbage[0]), strict=True):
        _write(engine, table, row_id, "created_at", value)

    summary = run_once(engine, now=f.NOW.replace(hour=13))

    assert _reported(summary) == {(table, row_id, "created_at") for table, row_id in broken.items()}
    assert summary.records_scored == 1  # contact c1 only
    assert {table: _health(engine, table, row_id) for table, row_id in broken.items()} == stored
    assert _health(engine, "contact", "c1")[0] is not None


def test_run_once_names_the_bad_row_and_exits_0(
    engine: Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    _book(engine)
    _write(engine, "crm_activity", "lee-3", "start_at", UNREADABLE[engine.dialect.name][0])

    ran = run_cli(capsys, "run", "--once", "--now", f.NOW.isoformat(), "--json")
    plain = run_cli(capsys, "run", "--once", "--now", f.NOW.isoformat())

    assert (ran.code, plain.code) == (0, 0), ran.err + plain.err
    assert "Traceback" not in ran.err + plain.err
    summary = json.loads(ran.out)
    assert summary["records_scored"] == 5
    assert summary["crm_row_problems"] == {
        "count": 1,
        "by_column": {"crm_activity.start_at": 1},
    }
    assert [line.split(":")[0] for line in summary["skipped_crm_rows"]] == ["crm_activity 'lee-3'"]
    assert "CRM values outside the contract: 1 (crm_activity.start_at 1)" in plain.out
    assert "crm_activity 'lee-3': start_at" in plain.out


def test_a_thousand_bad_rows_are_counted_and_a_few_shown(
    engine: Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    _book(engine)
    garbage = UNREADABLE[engine.dialect.name][0]
    f.insert(
        engine,
        CrmActivity,
        *(
            {
                "id": f"bad-{n:04d}",
                "kind": "email",
                "status": "completed",
                "start_at": f.days_ago(1),
            }
            for n in range(1000)
        ),
    )
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE crm_activity SET start_at = :value WHERE id LIKE 'bad-%'"),
            {"value": garbage},
        )

    ran = run_cli(capsys, "run", "--once", "--now", f.NOW.isoformat(), "--json")
    plain = run_cli(capsys, "run", "--once", "--now", f.NOW.isoformat())

    summary = json.loads(ran.out)
    assert summary["crm_row_problems"]["count"] == 1000
    assert len(summary["skipped_crm_rows"]) == 20
    assert summary["skipped_crm_rows"][0].startswith("crm_activity 'bad-0000': start_at")
    shown = [line for line in plain.out.splitlines() if "crm_activity 'bad-" in line]
    assert len(shown) == 5
    assert summary["records_scored"] == 5
