"""The `rapport` command as a user meets it: output, JSON, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests import factories as f
from tests.worker.cli_runner import run_cli


@pytest.fixture
def store(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.account(engine, "a1", "Contoso", primary="c1")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz", "a1")
    for week in range(8):
        thread = f"t{week}"
        f.email(
            engine,
            sender="ana@ours.example",
            to=["dana@contoso.example"],
            at=f.days_ago(7 * week + 2),
            conversation=thread,
        )
        f.email(
            engine,
            sender="dana@contoso.example",
            to=["ana@ours.example"],
            at=f.days_ago(7 * week + 1.8),
            conversation=thread,
        )
    f.meeting(
        engine,
        organizer="ana@ours.example",
        attendees={"dana@contoso.example": "accepted"},
        start=f.days_ago(3),
        minutes=45,
    )
    return engine


NOW = f.NOW.isoformat()


def test_run_once_scores_and_writes_back(store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    ran = run_cli(capsys, "run", "--once", "--now", NOW, "--json")

    assert ran.code == 0, ran.err
    summary = json.loads(ran.out)
    assert summary["interactions"]["total"] == 17
    assert summary["records_scored"] == 2  # the contact and its account
    with store.connect() as connection:
        score, state = connection.execute(
            sa.text("SELECT health_score, health_state FROM contact WHERE id = 'c1'")
        ).one()
    assert score is not None and 0 <= score <= 100
    assert state in (0, 1, 2)


def test_run_once_again_writes_nothing(store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "run", "--once", "--now", NOW)
    again = json.loads(run_cli(capsys, "run", "--once", "--now", NOW, "--json").out)

    assert again["written"]["records_updated"] == 0
    assert again["written"]["kpis_written"] == 0
    assert again["written"]["snapshots_written"] == 0
    assert again["interactions"]["added"] == 0
    assert again["crm_activities_unchanged"] == again["crm_activities"] > 0  # none derived again
    plain = run_cli(capsys, "run", "--once", "--now", NOW).out
    read = again["crm_activities"]
    assert f"CRM activities read: {read} (all unchanged since the last run)" in plain


def test_a_run_with_nothing_new_scores_nothing_and_full_regrades_every_record(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    first = json.loads(run_cli(capsys, "run", "--once", "--now", NOW, "--json").out)
    quiet = run_cli(capsys, "run", "--once", "--now", NOW)
    full = json.loads(run_cli(capsys, "run", "--once", "--full", "--now", NOW, "--json").out)

    assert first["scoring"] == "regrade" and first["records_scored"] > 0
    assert "records scored: 0 (); nothing changed: the stored health stands" in quiet.out
    assert (full["scoring"], full["regrade_reason"]) == ("regrade", "requested")
    assert full["records_scored"] == first["records_scored"]
    assert full["written"]["records_updated"] == 0  # the same now: the same health


def test_health_show_by_id_and_by_address(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "run", "--once", "--now", NOW)

    by_id = json.loads(run_cli(capsys, "health", "show", "contact:c1", "--json").out)
    by_address = json.loads(
        run_cli(capsys, "health", "show", " Dana@Contoso.example", "--json").out
    )

    assert by_id["name"] == "Dana Ruiz"
    assert by_id == by_address
    assert by_id["kpi"]["emails_sent"] == 8 and by_id["kpi"]["emails_received"] == 8
    assert by_id["kpi"]["reasons"], "every score comes with reasons"
    text = run_cli(capsys, "health", "show", "account:a1")
    assert text.code == 0 and "Contoso" in text.out


def test_analytics_switched_off_hides_the_score(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "settings", "set", "switch.relationship_analytics", "off")
    summary = json.loads(run_cli(capsys, "run", "--once", "--now", NOW, "--json").out)

    assert summary["interactions"]["total"] == 17  # still collected
    with store.connect() as connection:
        row = connection.execute(
            sa.text("SELECT health_score, health_state, health_trend FROM contact")
        ).one()
    assert tuple(row) == (None, None, 5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["health", "show", "contact:nope"], "record: no contact with id 'nope'"),
        (["health", "show", "invoice:7"], "record: 'invoice:7' is not allowed; expected TYPE:ID"),
        (["health", "show", "who@nowhere.example"], "no contact or lead has the address"),
        (["run", "--once", "--now", "yesterday"], "--now: 'yesterday' is not allowed"),
        (["run"], "run: add --once"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    store: Engine, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    outcome = run_cli(capsys, *args)
    assert outcome.code == 2
    assert message in outcome.err
    assert "Traceback" not in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1


def test_unknown_option_is_a_usage_error(store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = run_cli(capsys, "run", "--once", "--fast")
    assert outcome.code == 2
    assert "--fast" in outcome.err
    assert "Traceback" not in outcome.err


def test_unmigrated_database_names_the_command_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    outcome = run_cli(capsys, "run", "--once")
    assert outcome.code == 4
    assert "run: rapport db upgrade" in outcome.err


def test_db_upgrade_then_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    upgraded = json.loads(run_cli(capsys, "db", "upgrade", "--json").out)
    assert upgraded["current"] == upgraded["head"]
    assert "up to date" in run_cli(capsys, "db", "current").out


def test_unreachable_database_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", "postgresql://rapport:s3cret-pw@127.0.0.1:1/crm")
    outcome = run_cli(capsys, "settings", "show")
    assert outcome.code == 4
    assert (
        "cannot use the database at postgresql+psycopg://rapport:***@127.0.0.1:1/crm" in outcome.err
    )
    assert "s3cret-pw" not in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RAPPORT_DATABASE_URL", "mysql://x@y/z", "RAPPORT_DATABASE_URL='mysql://x@y/z'"),
        ("RAPPORT_LOG_LEVEL", "chatty", "RAPPORT_LOG_LEVEL='CHATTY': Input should be 'DEBUG'"),
        (
            "RAPPORT_WRITEBACK_BATCH_SIZE",
            "5",
            "RAPPORT_WRITEBACK_BATCH_SIZE='5': Input should be greater than or equal to 100",
        ),
    ],
)
def test_a_wrong_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    outcome = run_cli(capsys, "db", "current")
    assert outcome.code == 2
    assert message in outcome.err
    assert outcome.err.startswith("rapport: invalid configuration")


def test_demo_surfaces_the_deal_whose_primary_contact_went_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_cli(
        capsys, "demo", "--database", str(tmp_path / "demo.db"), "--json", "--now", NOW
    )

    assert outcome.code == 0, outcome.err
    report = json.loads(outcome.out)
    scenario = report["scenario"]
    top = report["deals_at_risk"][0]
    assert top["id"] == scenario["strategic_opportunity_id"]
    assert top["contact_id"] == scenario["primary_contact_id"]
    quiet = {row["contact_id"] for row in report["deals_at_risk"]}
    assert scenario["secondary_contact_id"] not in quiet
    assert any(scenario["primary_contact_name"] in reason for reason in top["reasons"])


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    outcome = run_cli(capsys, "--version")

    assert (outcome.code, outcome.out, outcome.err) == (0, f"rapport {version('rapport')}\n", "")
