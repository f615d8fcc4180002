"""`rapport worker` as a process on SQLite: endpoints, one worker only, start and stop."""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import migrate
from storage.engine import create_store_engine
from tests.worker.cli_runner import run_cli
from tests.worker.service.harness import (
    WORKER,
    Process,
    Processes,
    clean_environment,
    free_port,
    http_get,
    wait_until,
)

pytestmark = pytest.mark.slow  # worker processes

SERVICE = {"sync_interval_seconds": "2", "sync_jitter_seconds": "0.2", "log_format": "json"}


@pytest.fixture(scope="module")
def module_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    processes = Processes(tmp_path_factory.mktemp("sqlite-worker"))
    yield processes
    processes.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    processes = Processes(tmp_path)
    yield processes
    processes.close()


@pytest.fixture(scope="module")
def store(module_processes: Processes, sqlite_template: Path) -> str:
    path = module_processes.directory / "rapport.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def running(module_processes: Processes, store: str) -> tuple[Process, int]:
    port = free_port()
    env = clean_environment(database_url=store, metrics_port=str(port), **SERVICE)
    worker = module_processes.start("worker", WORKER, env)
    wait_until(lambda: worker.events("scoring run"), 30, "the first scoring run")
    return worker, port


def test_health_readiness_and_metrics_answer(running: tuple[Process, int]) -> None:
    _, port = running

    assert http_get(port, "/healthz").json() == {"status": "alive"}
    assert http_get(port, "/readyz").json() == {"status": "ready"}
    metrics = http_get(port, "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    for name in (
        "rapport_sync_round_seconds_count",
        "rapport_scoring_seconds_count",
        "rapport_records_scored_total",
        "rapport_replicas_live 1",
        "rapport_database_up 1",
    ):
        assert name in metrics.text


def test_a_second_worker_on_the_same_sqlite_store_refuses_to_start(
    running: tuple[Process, int], store: str, processes: Processes
) -> None:
    second = processes.start(
        "second", WORKER, clean_environment(database_url=store, metrics_port="0")
    )

    assert second.wait(30) == 2
    message = "\n".join(second.lines())
    assert "another rapport worker (pid" in message
    assert "SQLite allows one worker" in message and "PostgreSQL" in message


def test_status_reports_the_store(
    running: tuple[Process, int],
    store: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from worker.cli import rapport
    from worker.cli.service import register

    register(rapport.app)
    monkeypatch.setenv("RAPPORT_DATABASE_URL", store)
    shown = run_cli(capsys, "status", "--json")

    assert shown.code == 0, shown.err
    status = json.loads(shown.out)
    assert status["schema"]["current"] == status["schema"]["head"]
    assert status["jobs"]["scoring"]["completed_at"] is not None
    assert len(status["replicas"]) == 1


def test_an_old_schema_is_refused_with_the_command_to_run(processes: Processes) -> None:
    env = clean_environment(
        database_url=f"sqlite:///{processes.directory / 'empty.db'}", metrics_port="0"
    )
    refused = processes.start("refused", WORKER, env)

    assert refused.wait(30) == 4
    assert "run: rapport db upgrade (or start the worker with RAPPORT_AUTO_MIGRATE=true)" in (
        "\n".join(refused.lines())
    )


def test_auto_migrate_readiness_then_sigterm_exits_0_promptly(processes: Processes) -> None:
    store, port = f"sqlite:///{processes.directory / 'fresh.db'}", free_port()
    env = clean_environment(
        database_url=store, metrics_port=str(port), auto_migrate="true", **SERVICE
    )
    worker = processes.start("worker", WORKER, env)
    wait_until(lambda: worker.events("scoring run"), 30, "the first scoring run")
    engine = create_store_engine(store)
    migrate.downgrade(engine, "0002")  # an older schema under a running worker
    try:
        not_ready = http_get(port, "/readyz")
    finally:
        migrate.upgrade(engine)
        engine.dispose()
    assert not_ready.status_code == 503
    assert "schema is at 0002" in not_ready.json()["reason"]

    asked = time.monotonic()
    worker.signal(signal.SIGTERM)
    code = worker.wait(30)

    assert code == 0
    assert time.monotonic() - asked < 30
    assert worker.events("schema migrated")[0]["to"] == migrate.head_revision()
    assert worker.events("worker stopped")
