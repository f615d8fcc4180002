"""`rapport web`: the trial starts as a process of its own on a loopback port and serves
the seeded store; a start that would serve without sign-in to the network, or without
--trial while sign-in is not configured, is refused with one line naming the setting
and exit 2; configured, it serves behind sign-in."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.web.book import seed
from tests.worker.cli_runner import run_cli
from tests.worker.service.harness import clean_environment

pytestmark = pytest.mark.slow  # `rapport web` processes


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"rapport web ended with {process.returncode}")
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("rapport web did not answer within 60 s")


def test_the_trial_serves_the_store_on_loopback_with_its_banner(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    seed(engine)
    port = _free_port()
    command = [
        sys.executable,
        "-c",
        "from worker.cli.rapport import main; main()",
        "web",
        "--trial",
        "--port",
        str(port),
    ]
    log = tmp_path / "web.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            env=clean_environment(database_url=database_url),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        page = _wait_for(f"http://127.0.0.1:{port}/portfolio", process)
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert page.status_code == 200
    assert "Trial mode: no sign-in" in page.text
    assert "Deal o8" in page.text and "Deal o1" in page.text  # everyone a manager
    assert page.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.com"])
def test_the_trial_refuses_a_non_loopback_address(
    capsys: pytest.CaptureFixture[str], host: str
) -> None:
    outcome = run_cli(capsys, "web", "--trial", "--host", host)

    assert outcome.code == 2
    assert outcome.err.count("\n") == 1
    assert outcome.err.startswith(f"rapport: --host: {host!r} is not allowed with --trial")


@pytest.fixture
def no_web_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No RAPPORT_WEB_* variable and no .env file in the working directory."""
    for name in [name for name in os.environ if name.startswith("RAPPORT_WEB_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_without_trial_it_refuses_naming_the_missing_sign_in_setting(
    capsys: pytest.CaptureFixture[str], no_web_settings: pytest.MonkeyPatch
) -> None:
    no_web_settings.setenv("RAPPORT_WEB_TENANT_ID", "contoso.onmicrosoft.com")
    no_web_settings.setenv("RAPPORT_WEB_CLIENT_ID", "0e1d2c3b-0000-4000-8000-0000000a4401")

    outcome = run_cli(capsys, "web")

    assert outcome.code == 2
    assert outcome.err.count("\n") == 1
    assert outcome.err.startswith(
        "rapport: web: sign-in is not configured: RAPPORT_WEB_CLIENT_SECRET is not set"
    )


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("RAPPORT_WEB_MANAGERS_GROUP", "Sales managers", "'Sales managers' is not a group"),
        ("RAPPORT_WEB_SESSION_SECRET", "s3cret-short", "too short"),
        ("RAPPORT_WEB_REDIRECT_URI", "http://rapport.contoso.com/cb", "is not allowed"),
    ],
)
def test_a_bad_sign_in_setting_is_named_and_a_secret_never_shown(
    capsys: pytest.CaptureFixture[str],
    no_web_settings: pytest.MonkeyPatch,
    name: str,
    value: str,
    named: str,
) -> None:
    no_web_settings.setenv(name, value)

    outcome = run_cli(capsys, "web")

    assert outcome.code == 2
    assert outcome.err.count("\n") == 1
    assert outcome.err.startswith(f"rapport: {name}: ") and named in outcome.err
    assert "s3cret" not in outcome.err


def test_with_sign_in_configured_it_serves_and_asks_to_sign_in(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    seed(engine)
    port = _free_port()
    settings = {
        "web_tenant_id": "contoso.onmicrosoft.com",
        "web_client_id": "0e1d2c3b-0000-4000-8000-0000000a4401",
        "web_client_secret": "web-app-secret-value",
        "web_redirect_uri": "https://rapport.contoso.com/auth/callback",
        "web_session_secret": "a-session-secret-of-more-than-32-characters",
    }
    command = [sys.executable, "-c", "from worker.cli.rapport import main; main()", "web"]
    command += ["--port", str(port)]
    log = tmp_path / "web.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            env=clean_environment(database_url=database_url, **settings),
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        page = _wait_for(f"http://127.0.0.1:{port}/portfolio", process)
        api = httpx.get(f"http://127.0.0.1:{port}/api/portfolio", timeout=5)
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert page.status_code == 303 and page.headers["location"] == "/signin?next=%2Fportfolio"
    assert api.status_code == 401 and "Deal" not in api.text
    printed = log.read_text()
    assert "sign-in with Entra ID" in printed and "secret" not in printed.lower()


def test_a_port_out_of_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    outcome = run_cli(capsys, "web", "--trial", "--port", "70000")

    assert (outcome.code, outcome.err) == (
        2,
        "rapport: --port: 70000 is not allowed; expected 1 to 65535\n",
    )
