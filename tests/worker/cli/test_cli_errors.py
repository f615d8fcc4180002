"""Bad input as a user meets it: one line naming the argument, the documented exit code.

Issue 15, items 8 and 11: every case below used to end in "unexpected failure"
(exit 1), a five-line usage box, an error naming another store, or a store
created where none was asked for.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests import factories as f
from tests.worker.cli_runner import Outcome, run_cli

CONTACT = "contact:c1"
IN_TWO_YEARS = (datetime.now(UTC) + timedelta(days=730)).date().isoformat()


@pytest.fixture
def store(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    f.user(engine, "u1", "ana@ours.example", "Ana Seller")
    f.contact(engine, "c1", "dana@contoso.example", "Dana Ruiz")
    f.email(engine, sender="ana@ours.example", to=["dana@contoso.example"], at=f.days_ago(3))
    return engine


def _refused(outcome: Outcome, code: int, *needles: str) -> None:
    """One line on stderr, starting with `rapport: `, naming what was wrong; no traceback."""
    assert outcome.code == code, outcome.err
    assert "Traceback" not in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1, outcome.err
    assert outcome.err.startswith("rapport: ")
    for needle in needles:
        assert needle in outcome.err


def _health_stamped(engine: Engine) -> object:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT health_updated_at FROM contact WHERE id = 'c1'")
        ).scalar_one()


@pytest.mark.parametrize(
    ("out", "needle"),
    [
        ("{file}/export", "--out"),
        ("{file}", "--out"),
        ("/dev/full/export", "--out: cannot create the directory /dev/full/export"),
        ("/proc/rapport-export", "--out: cannot create the directory /proc/rapport-export"),
    ],
    ids=["under-a-file", "a-file", "under-dev-full", "under-proc"],
)
def test_an_export_target_that_cannot_be_a_directory_is_bad_input(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], out: str, needle: str
) -> None:
    regular = tmp_path / "notes.txt"
    regular.write_text("not a directory\n", encoding="utf-8")

    ran = run_cli(capsys, "export", "--subject", CONTACT, "--out", out.format(file=regular))

    _refused(ran, 2, needle)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("retention", "purge", "--interaction-days", str(10**30)), "interaction_days: 1000"),
        (("retention", "purge", "--snapshot-days", "40000"), "snapshot_daily_days: 40000"),
        (("retention", "purge", "--now", "9999-12-31"), "--now: '9999-12-31' is not allowed"),
        (("retention", "purge", "--now", IN_TWO_YEARS), "--allow-far-now"),
        (("run", "--once", "--now", "0001-01-01"), "--now: '0001-01-01' is not allowed"),
        (("run", "--once", "--now", "9999-12-31"), "--now: '9999-12-31' is not allowed"),
        (("run", "--once", "--now", "0001-01-01T00:00+05:00"), "--now"),
        (("run", "--once", "--now", IN_TWO_YEARS), "too far from the clock"),
        (("settings", "set", "grading.fair_min", "-5"), "grading.fair_min: -5 is not allowed"),
        (("settings", "set", "influence.email", "-1"), "influence.email: -1 is not allowed"),
        (("audit", "list", "--since", "0001-01-01T00:00+05:00"), "--since: '0001-01-01T00:00"),
        (("audit", "list", "--since", "9999-12-31T23:59-05:00"), "--since: '9999-12-31T23:59"),
    ],
)
def test_out_of_range_arguments_are_bad_input_and_change_nothing(
    store: Engine, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], needle: str
) -> None:
    ran = run_cli(capsys, *args)

    _refused(ran, 2, needle)
    assert _health_stamped(store) is None  # no run wrote anything back


def test_a_far_now_is_accepted_when_meant(
    store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = run_cli(capsys, "run", "--once", "--now", IN_TWO_YEARS, "--allow-far-now", "--json")

    assert ran.code == 0, ran.err
    assert _health_stamped(store) is not None


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "--once", "--fast"), "No such option: --fast"),
        (("health", "show"), "Missing argument"),
        (("export", "--subject", CONTACT, "--out", "x", "--format", "xml"), "--format"),
        (("retention", "purge", "--interaction-days", "many"), "--interaction-days"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(
    store: Engine, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], needle: str
) -> None:
    _refused(run_cli(capsys, *args), 2, needle)


def test_a_demo_database_that_is_a_directory_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _refused(run_cli(capsys, "demo", "--database", str(tmp_path)), 2, "--database", str(tmp_path))


def test_a_demo_database_in_a_missing_directory_names_the_demo_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configured = tmp_path / "configured-store.db"
    monkeypatch.setenv("RAPPORT_DATABASE_URL", f"sqlite:///{configured}")
    wanted = tmp_path / "nonexistent" / "dir" / "x.db"

    ran = run_cli(capsys, "demo", "--database", str(wanted))

    _refused(ran, 2, "--database", str(wanted.parent))
    assert str(configured) not in ran.err
    assert not wanted.parent.exists()


def test_an_emulator_fixture_in_a_missing_directory_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nonexistent" / "dir" / "f.json"
    ran = run_cli(
        capsys,
        "emulator",
        "generate",
        "--users",
        "1",
        "--messages-per-user",
        "1",
        "--seed",
        "1",
        "--out",
        str(target),
    )

    _refused(ran, 2, "--out", str(target.parent))


def test_a_file_that_is_not_a_database_is_a_database_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is no SQLite file, just some text\n" * 200)
    monkeypatch.setenv("RAPPORT_DATABASE_URL", f"sqlite:///{garbage}")

    for args in (("status",), ("db", "upgrade"), ("run", "--once")):
        _refused(run_cli(capsys, *args), 4, "file is not a database", str(garbage))


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("db", "current"),
        ("settings", "show"),
        ("health", "show", CONTACT),
        ("audit", "list"),
        ("mailboxes", "list"),
        ("run", "--once"),
    ],
)
def test_without_a_store_commands_say_how_to_create_one_and_create_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
) -> None:
    monkeypatch.delenv("RAPPORT_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)

    ran = run_cli(capsys, *args)

    _refused(ran, 4, "no Rapport store at rapport.db", "RAPPORT_DATABASE_URL is not set")
    assert "run: rapport db upgrade" in ran.err
    assert list(tmp_path.iterdir()) == []


def test_db_upgrade_still_creates_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RAPPORT_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)

    assert run_cli(capsys, "db", "upgrade").code == 0
    assert (tmp_path / "rapport.db").exists()
    assert run_cli(capsys, "status").code == 0


def test_an_emulator_port_out_of_range_or_taken_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixture = tmp_path / "tenant.json"
    generated = run_cli(
        capsys,
        "emulator",
        "generate",
        "--users",
        "1",
        "--messages-per-user",
        "1",
        "--seed",
        "1",
        "--out",
        str(fixture),
    )
    assert generated.code == 0, generated.err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for option, value, needle in (
            ("--port", "70000", "--port"),
            ("--http-port", "-1", "--http-port"),
            ("--port", port, "address already in use"),
        ):
            ran = run_cli(
                capsys,
                "emulator",
                "serve",
                "--fixture",
                str(fixture),
                "--workdir",
                str(tmp_path),
                option,
                value,
            )

            _refused(ran, 2, needle)
