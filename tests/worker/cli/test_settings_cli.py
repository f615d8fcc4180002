"""`rapport settings show|set`: validation, adjacent grade bounds, audit."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.worker.cli_runner import run_cli


@pytest.fixture
def store(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    return engine


def _settings(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    shown = run_cli(capsys, "settings", "show", "--json")
    assert shown.code == 0, shown.err
    return {row["key"]: row["value"] for row in json.loads(shown.out)["settings"]}


def _audit_rows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [
            (row[0], row[1])
            for row in connection.execute(sa.text("SELECT command, action FROM audit_event"))
        ]


def test_defaults_are_shown(store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    values = _settings(capsys)
    assert values["influence.email"] == 6
    assert values["communication_frequency"] == "weekly"
    assert values["grading.good_min"] == 60 and values["grading.fair_min"] == 40
    assert values["switch.relationship_analytics"] is True
    shown = json.loads(run_cli(capsys, "settings", "show", "--json").out)["settings"]
    allowed = {row["key"]: row["allowed"] for row in shown}
    assert allowed["grading.good_min"] == "an integer 41-100"  # moves with Fair's minimum
    assert allowed["switch.show_health"] == "on or off"


def test_a_valid_change_is_stored_and_audited(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    changed = run_cli(capsys, "settings", "set", "influence.meeting", "3")
    assert changed.code == 0, changed.err
    assert "influence.meeting: 6 -> 3" in changed.out
    assert _settings(capsys)["influence.meeting"] == 3
    assert _audit_rows(store) == [("settings set", "setting_changed")]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("influence.email", "10", "influence.email: 10 is not allowed; expected an integer 3-9"),
        (
            "influence.task",
            "high",
            "influence.task: 'high' is not allowed; expected an integer 3-9",
        ),
        (
            "communication_frequency",
            "hourly",
            "communication_frequency: 'hourly' is not allowed; expected one of daily, "
            "every_few_days, weekly, every_couple_of_weeks, monthly",
        ),
        (
            "switch.show_health",
            "maybe",
            "switch.show_health: 'maybe' is not allowed; expected on or off",
        ),
        (
            "grading.good_min",
            "40",
            "grading.good_min: 40 is not allowed; expected an integer 41-100",
        ),
        ("grading.fair_min", "60", "grading.fair_min: 60 is not allowed; expected an integer 1-59"),
        ("grading.poor_max", "5", "'grading.poor_max' is not a setting; allowed keys:"),
    ],
)
def test_a_bad_value_is_refused_and_nothing_changes(
    store: Engine, capsys: pytest.CaptureFixture[str], key: str, value: str, expected: str
) -> None:
    before = _settings(capsys)

    refused = run_cli(capsys, "settings", "set", key, value)

    assert refused.code == 2
    assert expected in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert _settings(capsys) == before
    assert _audit_rows(store) == []


def test_grade_bounds_move_together(store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "settings", "set", "grading.good_min", "50").code == 0
    shown = json.loads(run_cli(capsys, "settings", "show", "--json").out)
    assert shown["grades"] == [
        {"grade": "Good", "low": 50, "high": 100},
        {"grade": "Fair", "low": 40, "high": 49},
        {"grade": "Poor", "low": 0, "high": 39},
    ]
    # Fair can now rise only to 49: the bound moved with Good's minimum.
    assert run_cli(capsys, "settings", "set", "grading.fair_min", "50").code == 2
    assert run_cli(capsys, "settings", "set", "grading.fair_min", "49").code == 0


def test_switches_accept_on_and_off(store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "settings", "set", "switch.relationship_analytics", "off").code == 0
    assert _settings(capsys)["switch.relationship_analytics"] is False
    same = run_cli(capsys, "settings", "set", "switch.relationship_analytics", "false")
    assert "nothing changed" in same.out
    assert len(_audit_rows(store)) == 1
