"""`rapport worker` with its web job on (RAPPORT_WORKER_WEB=on): a web app whose
sign-in is not configured is refused in one line (exit 2) before anything starts;
a configured one answers over HTTP beside the jobs, and SIGTERM stops both (exit 0)."""

from __future__ import annotations

import shutil
import signal
import socket
from pathlib import Path

import httpx
import pytest

from tests.worker.service.harness import WORKER, Processes, clean_environment, free_port, wait_until

pytestmark = pytest.mark.slow  # worker processes

SIGN_IN = {
    "RAPPORT_WEB_TENANT_ID": "contoso.onmicrosoft.com",
    "RAPPORT_WEB_CLIENT_ID": "0e1d2c3b-0000-4000-8000-0000000a4401",
    "RAPPORT_WEB_CLIENT_SECRET": "a-client-secret-for-tests",
    "RAPPORT_WEB_SESSION_SECRET": "test-session-secret-" + "x" * 32,
    "RAPPORT_WEB_MANAGERS_GROUP": "7d3c5a10-0000-4000-8000-00000000aa01",
    "RAPPORT_WEB_ADMINS_GROUP": "7d3c5a10-0000-4000-8000-00000000aa02",
}


def _environment(store: str, web_port: int) -> dict[str, str]:
    return clean_environment(
        database_url=store,
        metrics_port="0",
        worker_web="on",
        worker_web_host="127.0.0.1",
        worker_web_port=str(web_port),
        sync_interval_seconds="3600",
    )


def test_a_web_job_without_sign_in_is_refused_in_one_line(
    tmp_path: Path, sqlite_template: Path
) -> None:
    shutil.copy(sqlite_template, tmp_path / "rapport.db")
    processes = Processes(tmp_path)
    try:
        worker = processes.start(
            "worker", WORKER, _environment(f"sqlite:///{tmp_path / 'rapport.db'}", free_port())
        )
        assert worker.wait(60) == 2
    finally:
        processes.close()
    lines = worker.log.read_text().splitlines()
    assert len(lines) == 1, lines
    assert "RAPPORT_WORKER_WEB=on" in lines[0]
    assert "RAPPORT_WEB_" in lines[0] and "Traceback" not in lines[0]


def test_the_web_app_answers_beside_the_jobs_and_stops_on_sigterm(
    tmp_path: Path, sqlite_template: Path
) -> None:
    shutil.copy(sqlite_template, tmp_path / "rapport.db")
    port = free_port()
    env = _environment(f"sqlite:///{tmp_path / 'rapport.db'}", port)
    env.update(
        SIGN_IN,
        RAPPORT_LOG_FORMAT="json",
        RAPPORT_WEB_REDIRECT_URI=f"http://127.0.0.1:{port}/auth/callback",
    )
    processes = Processes(tmp_path)
    try:
        worker = processes.start("worker", WORKER, env)
        wait_until(lambda: worker.events("worker started"), 60, "the worker's start")
        answer = httpx.get(f"http://127.0.0.1:{port}/portfolio", timeout=10)
        assert answer.is_redirect, answer.status_code
        assert answer.headers["location"] == "/signin?next=%2Fportfolio"

        worker.signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    finally:
        processes.close()
    try:
        httpx.get(f"http://127.0.0.1:{port}/portfolio", timeout=2)
        raise AssertionError("the web app still answers after the worker stopped")
    except httpx.ConnectError:
        pass


def _refusal(tmp_path: Path, sqlite_template: Path, env: dict[str, str]) -> str:
    shutil.copy(sqlite_template, tmp_path / "rapport.db")
    processes = Processes(tmp_path)
    try:
        worker = processes.start("worker", WORKER, env)
        assert worker.wait(60) == 2
    finally:
        processes.close()
    lines = [line for line in worker.log.read_text().splitlines() if line.startswith("rapport:")]
    assert len(lines) == 1 and "Traceback" not in worker.log.read_text(), lines
    return lines[0]


def test_a_web_switch_other_than_on_or_off_is_one_line(
    tmp_path: Path, sqlite_template: Path
) -> None:
    env = _environment(f"sqlite:///{tmp_path / 'rapport.db'}", free_port())
    env["RAPPORT_WORKER_WEB"] = "yes"

    line = _refusal(tmp_path, sqlite_template, env)

    assert (
        line
        == "rapport: invalid configuration: RAPPORT_WORKER_WEB='yes': Input should be 'on' or 'off'"
    )


def test_a_taken_web_port_is_one_line(tmp_path: Path, sqlite_template: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        env = _environment(f"sqlite:///{tmp_path / 'rapport.db'}", port)
        env.update(SIGN_IN, RAPPORT_WEB_REDIRECT_URI=f"http://127.0.0.1:{port}/auth/callback")

        line = _refusal(tmp_path, sqlite_template, env)

    assert line.startswith(f"rapport: RAPPORT_WORKER_WEB_PORT={port}: the web app cannot listen")
