"""`rapport health show` and `rapport export` on a record whose CRM times no type reads.

The CRM writes its tables itself (docs/crm-contract.md, "Values Rapport refuses"):
a run skips such a record and reports it, and the record keeps the health it had.
Both commands used to stop there with "unexpected failure: ValueError" (exit 1);
they show or export the record, the value as unknown, and name it as the run does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests import factories as f
from tests.worker.cli_runner import run_cli
from worker.run.tick import run_once

# Per database, what a CRM can write into a timestamp column and no datetime can hold.
UNREADABLE = {
    "sqlite": ("not a date", 20261120),
    "postgresql": ("infinity", "20000-01-01 00:00:00+00"),
}


@pytest.fixture
def store(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz")
    f.email(engine, sender="ana@ours.example", to=["dana@contoso.example"], at=f.days_ago(3))
    run_once(engine, now=f.NOW)  # scored: the record has a health to keep
    return engine


def _write_created_at(engine: Engine, value: Any) -> None:
    """As the CRM would write it, past every check Rapport's own models make."""
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE contact SET created_at = :value WHERE id = 'c1'"), {"value": value}
        )


def _values(engine: Engine) -> tuple[Any, ...]:
    return UNREADABLE[engine.dialect.name]


@pytest.mark.parametrize("which", [0, 1])
def test_health_show_shows_the_record_and_names_the_value(
    store: Engine, capsys: pytest.CaptureFixture[str], which: int
) -> None:
    before = json.loads(run_cli(capsys, "health", "show", "contact:c1", "--json").out)
    _write_created_at(store, _values(store)[which])

    shown = run_cli(capsys, "health", "show", "contact:c1", "--json")
    text = run_cli(capsys, "health", "show", "contact:c1")

    assert shown.code == 0, shown.err
    payload = json.loads(shown.out)
    health = ("health_score", "health_state", "health_trend", "health_updated_at")
    assert before["health_updated_at"] is not None  # scored by the run
    assert {k: payload[k] for k in health} == {k: before[k] for k in health}
    [problem] = payload["unreadable"]
    assert problem.startswith("contact 'c1': created_at ")
    assert "is not allowed; expected a timestamp; shown as unknown" in problem
    assert (text.code, text.err) == (0, "")
    assert problem in text.out and "Dana Ruiz" in text.out


@pytest.mark.parametrize("which", [0, 1])
def test_export_exports_the_record_with_the_value_as_unknown(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], which: int
) -> None:
    _write_created_at(store, _values(store)[which])

    ran = run_cli(
        capsys, "export", "--subject", "contact:c1", "--out", str(tmp_path / "out"), "--json"
    )

    assert ran.code == 0, ran.err
    payload = json.loads(ran.out)
    [problem] = payload["unreadable"]
    assert problem.startswith("contact 'c1': created_at ")
    assert problem.endswith("expected a timestamp; exported as unknown (null)")
    assert payload["counts"]["records"] == 1 and payload["counts"]["interactions"] == 1
    [exported] = [p for p in payload["files"] if p.endswith(".json")]
    [record] = json.loads(Path(exported).read_text(encoding="utf-8"))["sections"]["records"]
    assert record["record_id"] == "c1" and record["created_at"] is None
    assert record["health_updated_at"] is not None


def test_erase_of_such_a_record_still_erases(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_created_at(store, _values(store)[0])

    ran = run_cli(capsys, "erase", "--subject", "contact:c1")

    assert ran.code == 0, ran.err
    with store.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM interaction")).scalar_one() == 0
