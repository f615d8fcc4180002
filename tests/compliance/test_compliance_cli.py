"""`rapport export|erase|retention purge|audit list` as an operator meets them."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.compliance.scan import occurrences
from tests.compliance.scenario import DANA, LEE, seed_scored
from tests.conftest import DATABASES, private_store
from tests.worker.cli_runner import Outcome, run_cli
from worker.cli import rapport
from worker.cli.compliance import register


@pytest.fixture
def store(scored: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    # Until worker/cli/rapport.py mounts the commands itself; register() ignores a second call.
    register(rapport.app)
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    return scored


@pytest.fixture(scope="module", params=DATABASES)
def scored_once(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[tuple[Engine, str]]:
    """The scenario seeded and scored once per database, for the tests of requests refused
    before anything changes: (store, its URL)."""
    directory = tmp_path_factory.mktemp("compliance_cli")
    with private_store(request.param, directory, sqlite_template) as engine:
        seed_scored(engine)
        yield engine, engine.url.render_as_string(hide_password=False)


@pytest.fixture
def shared_store(scored_once: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch) -> Engine:
    register(rapport.app)
    engine, url = scored_once
    monkeypatch.setenv("RAPPORT_DATABASE_URL", url)
    return engine


def _json(outcome: Outcome) -> dict[str, Any]:
    assert outcome.code == 0, outcome.err
    loaded: dict[str, Any] = json.loads(outcome.out)
    return loaded


def test_export_writes_private_json(
    store: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    payload = _json(
        run_cli(capsys, "export", "--subject", DANA.addresses[0], "--out", str(tmp_path), "--json")
    )

    [path] = [Path(p) for p in payload["files"]]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text(encoding="utf-8"))["format_version"] == 1
    assert payload["holds_data"] is True


def test_export_as_csv_prints_counts_and_the_notice(
    store: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "export"
    ran = run_cli(capsys, "export", "--subject", LEE.ref, "--format", "csv", "--out", str(out))

    assert ran.code == 0, ran.err
    assert "interactions" in ran.out and "must not be used" in ran.out
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("export", "--subject", "nobody@nowhere.example", "--out", "x"),
            "no contact, lead or system user",
        ),
        (("erase", "--subject", "contact:contact-missing-9999"), "no contact with id"),
        (("erase", "--subject", "Dana Ruiz"), "expected an email address or TYPE:ID"),
        (("audit", "list", "--since", "yesterday"), "--since: 'yesterday' is not allowed"),
        (("retention", "purge", "--interaction-days", "0"), "interaction_days: 0 is not allowed"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    shared_store: Engine, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    ran = run_cli(capsys, *args)

    assert ran.code == 2
    assert ran.err.startswith("rapport: ") and message in ran.err
    assert len(ran.err.strip().splitlines()) == 1


def test_erase_dry_run_then_erase_then_audit_list(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    planned = _json(run_cli(capsys, "erase", "--subject", DANA.addresses[0], "--dry-run", "--json"))
    assert planned["dry_run"] is True and occurrences(store, DANA.needles)

    done = _json(run_cli(capsys, "erase", "--subject", DANA.addresses[0], "--json"))
    assert done["counts"] == planned["counts"]
    assert occurrences(store, DANA.needles) == []

    events = _json(run_cli(capsys, "audit", "list", "--json"))["events"]
    assert [e["action"] for e in events][-1] == "subject_erased"
    shown = run_cli(capsys, "audit", "list")
    assert shown.code == 0 and "subject_erased" in shown.out


def test_export_after_erase_names_the_subject_by_token_only(
    store: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _json(run_cli(capsys, "erase", "--subject", DANA.addresses[0], "--json"))

    payload = _json(
        run_cli(capsys, "export", "--subject", DANA.addresses[0], "--out", str(tmp_path), "--json")
    )

    assert payload["holds_data"] is False
    assert occurrences(store, DANA.needles) == []


def test_retention_purge_prints_what_it_removed(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = _json(
        run_cli(
            capsys,
            "retention",
            "purge",
            "--now",
            "2026-11-20T12:00:00Z",
            "--interaction-days",
            "9",
            "--json",
        )
    )

    assert payload["counts"]["interaction"] > 0
    assert payload["interaction_cutoff"] == "2026-11-11T12:00:00+00:00"


def test_erase_then_release_from_the_command_line(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    _json(run_cli(capsys, "erase", "--subject", DANA.addresses[0], "--json"))

    released = _json(run_cli(capsys, "erase", "--release", DANA.addresses[0], "--json"))
    again = run_cli(capsys, "erase", "--release", DANA.addresses[0])

    assert released["released"] == 3 and released["subject_token"].startswith("hmac-sha256:")
    assert again.code == 0 and "was not on the suppression list" in again.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("erase",), "--subject: required"),
        (("erase", "--release", DANA.addresses[0], "--dry-run"), "--release: give it alone"),
        (("erase", "--release", "Dana Ruiz"), "expected an email address or TYPE:ID"),
    ],
)
def test_erase_refuses_a_bad_request_in_one_line(
    shared_store: Engine, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    outcome = run_cli(capsys, *args)

    assert outcome.code == 2
    assert message in outcome.err and len(outcome.err.strip().splitlines()) == 1
