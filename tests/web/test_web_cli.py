"""`rapport web`: the trial starts as a process of its own on a loopback port and serves
the seeded store; a start that would serve without sign-in to the network, or without
--trial while sign-in is not built, is refused with one line and exit 2."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.service.harness import clean_environment
from tests.web.book import seed
from tests.worker.cli_runner import run_cli


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


def test_without_trial_it_refuses_since_sign_in_is_not_configured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcome = run_cli(capsys, "web")

    assert outcome.code == 2
    assert outcome.err.count("\n") == 1
    assert outcome.err.startswith("rapport: web: sign-in is not configured yet")


def test_a_port_out_of_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    outcome = run_cli(capsys, "web", "--trial", "--port", "70000")

    assert (outcome.code, outcome.err) == (
        2,
        "rapport: --port: 70000 is not allowed; expected 1 to 65535\n",
    )
