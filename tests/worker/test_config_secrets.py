"""No configuration error shows a secret (issue 15, item 3).

Every secret-bearing setting is set at once, then each configuration error we
can provoke is added (model validators, field validators, type and range
errors, a wrong database URL, an unreachable database, several at once), from
the environment and from a `.env` file; stdout, stderr and every log record
must hold no secret, while the error still names the setting at fault.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.worker.cli_runner import Outcome, run_cli
from worker.settings import Settings

CLIENT_SECRET = "cs-Sweep-7f3a9c"
CERTIFICATE_PASSWORD = "cp-Sweep-41b2de"
URL_PASSWORD = "dbpw-Sweep-88c1"
QUERY_PASSWORD = "qpw-Sweep-2e7f"
SECRETS = (CLIENT_SECRET, CERTIFICATE_PASSWORD, URL_PASSWORD, QUERY_PASSWORD)
# Port 1: nothing listens there, so a command that reaches the database fails to connect.
DATABASE_URL = f"postgresql://rapport:{URL_PASSWORD}@127.0.0.1:1/crm"
QUERY_PASSWORD_URL = f"postgresql://rapport@127.0.0.1:1/crm?password={QUERY_PASSWORD}"

# Secret settings the sweep covers: a SecretStr added to Settings must be added here.
SECRET_SETTINGS = {
    "client_secret": CLIENT_SECRET,
    "client_certificate_password": CERTIFICATE_PASSWORD,
}

# Each provokes one kind of error; (variables, the setting the message must name).
PROVOKED: dict[str, tuple[dict[str, str], str]] = {
    "two credentials (model validator)": (
        {"RAPPORT_CLIENT_SECRET_FILE": "/run/secrets/rapport"},
        "RAPPORT_CLIENT_SECRET_FILE",
    ),
    "three credentials (model validator)": (
        {"RAPPORT_CLIENT_CERTIFICATE_PATH": "/run/cert.pem", "RAPPORT_USE_WORKLOAD_IDENTITY": "1"},
        "RAPPORT_USE_WORKLOAD_IDENTITY",
    ),
    "jitter above half the interval (model validator)": (
        {"RAPPORT_SYNC_JITTER_SECONDS": "1000"},
        "RAPPORT_SYNC_JITTER_SECONDS",
    ),
    "not a geo code (field validator)": (
        {"RAPPORT_ALLOWED_DATA_LOCATIONS": "EUROPE"},
        "RAPPORT_ALLOWED_DATA_LOCATIONS",
    ),
    "not a group id (field validator)": (
        {"RAPPORT_EXCLUDED_GROUPS": "sales team"},
        "RAPPORT_EXCLUDED_GROUPS",
    ),
    "plain-http token service (field validator)": (
        {"RAPPORT_AUTHORITY_HOST": "http://login.example"},
        "RAPPORT_AUTHORITY_HOST",
    ),
    "not a number (type error)": (
        {"RAPPORT_WRITEBACK_BATCH_SIZE": "lots"},
        "RAPPORT_WRITEBACK_BATCH_SIZE",
    ),
    "not a boolean (type error)": (
        {"RAPPORT_AUTO_MIGRATE": "perhaps"},
        "RAPPORT_AUTO_MIGRATE",
    ),
    "out of range": ({"RAPPORT_PAGE_SIZE": "5"}, "RAPPORT_PAGE_SIZE"),
    "not a log level (literal)": ({"RAPPORT_LOG_LEVEL": "chatty"}, "RAPPORT_LOG_LEVEL"),
    "unsupported database holding the password": (
        {"RAPPORT_DATABASE_URL": f"mysql://rapport:{URL_PASSWORD}@db.example/crm"},
        "RAPPORT_DATABASE_URL",
    ),
    "several at once": (
        {
            "RAPPORT_CLIENT_SECRET_FILE": "/run/secrets/rapport",
            "RAPPORT_SYNC_JITTER_SECONDS": "1000",
            "RAPPORT_PAGE_SIZE": "5",
            "RAPPORT_EXCLUDED_GROUPS": "sales team",
        },
        "RAPPORT_PAGE_SIZE",
    ),
}
COMMANDS = (("status",), ("db", "current"), ("run", "--once"), ("consent", "check"))


def _secret_environment(database_url: str) -> dict[str, str]:
    return {
        "RAPPORT_DATABASE_URL": database_url,
        **{f"RAPPORT_{name.upper()}": value for name, value in SECRET_SETTINGS.items()},
    }


def _run_with(
    variables: dict[str, str],
    *,
    through_dotenv: bool,
    command: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Outcome:
    for name in [*variables, "RAPPORT_DATABASE_URL"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    if through_dotenv:
        lines = [f"{name}={value}" for name, value in variables.items()]
        (tmp_path / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
    return run_cli(capsys, *command)


def _assert_no_secret(outcome: Outcome, caplog: pytest.LogCaptureFixture) -> None:
    for secret in SECRETS:
        assert secret not in outcome.out, f"stdout shows {secret}"
        assert secret not in outcome.err, f"stderr shows {secret}: {outcome.err}"
        assert secret not in caplog.text, f"a log record shows {secret}"
    assert "Traceback" not in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1


def test_the_sweep_covers_every_secret_setting() -> None:
    declared = {
        name
        for name, field in Settings.model_fields.items()
        if field.annotation in (SecretStr, SecretStr | None)
    }
    assert declared == set(SECRET_SETTINGS)


@pytest.mark.parametrize("through_dotenv", [False, True], ids=["environment", "dotenv"])
@pytest.mark.parametrize("database_url", [DATABASE_URL, QUERY_PASSWORD_URL], ids=["url", "query"])
@pytest.mark.parametrize("case", list(PROVOKED))
def test_a_configuration_error_names_the_setting_and_shows_no_secret(
    case: str,
    database_url: str,
    through_dotenv: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    provoked, named = PROVOKED[case]
    variables = {**_secret_environment(database_url), **provoked}
    # Every command loads settings the same way: each case takes the next one, so all are run.
    command = COMMANDS[list(PROVOKED).index(case) % len(COMMANDS)]
    outcome = _run_with(
        variables,
        through_dotenv=through_dotenv,
        command=command,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
        capsys=capsys,
    )

    assert outcome.code == 2, (command, outcome.err)
    assert outcome.err.startswith("rapport: invalid configuration: ")
    assert named in outcome.err
    _assert_no_secret(outcome, caplog)


@pytest.mark.parametrize("through_dotenv", [False, True], ids=["environment", "dotenv"])
@pytest.mark.parametrize("database_url", [DATABASE_URL, QUERY_PASSWORD_URL], ids=["url", "query"])
def test_an_unreachable_database_shows_no_secret(
    database_url: str,
    through_dotenv: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    outcome = _run_with(
        _secret_environment(database_url),
        through_dotenv=through_dotenv,
        command=("settings", "show"),
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
        capsys=capsys,
    )

    assert outcome.code == 4, outcome.err
    assert "cannot use the database at postgresql+psycopg://rapport" in outcome.err
    _assert_no_secret(outcome, caplog)
