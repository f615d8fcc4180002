"""What a new user reads when Rapport's output goes to a pipe, a log file or a scraper.

`rapport settings show` runs in-process with stdout captured (not a terminal);
`rapport worker` runs as a real process on each database, its log written in
the text format and its /metrics scraped over HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests import factories as f
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

pytestmark = pytest.mark.slow  # whole runs

FREQUENCIES = "one of daily, every_few_days, weekly, every_couple_of_weeks, monthly"


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    processes = Processes(tmp_path)
    yield processes
    processes.close()


def test_a_piped_table_keeps_each_row_on_one_line(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "80")  # what rich assumes when stdout is not a terminal

    shown = run_cli(capsys, "settings", "show")

    assert shown.code == 0, shown.err
    [row] = [line for line in shown.out.splitlines() if "communication_frequency" in line]
    assert re.search(rf"communication_frequency\W+weekly\W+weekly\W+{FREQUENCIES}\W*$", row)


def started_worker(processes: Processes, database_url: str) -> tuple[Process, int]:
    port = free_port()
    env = clean_environment(
        database_url=database_url,
        metrics_port=str(port),
        sync_interval_seconds="2",
        sync_jitter_seconds="0.2",
        log_format="text",
    )
    worker = processes.start("worker", WORKER, env)
    return worker, port


def test_text_log_lines_carry_the_event_fields_and_counters_start_at_zero(
    engine: Engine, database_url: str, processes: Processes
) -> None:
    f.user(engine, "u-adele", "adele@contoso.com", "Adele Vance")
    f.account(engine, "a-fab", "Fabrikam", primary="c-alex")
    f.contact(engine, "c-alex", "alex@fabrikam.com", "Alex Wilber", "a-fab")
    worker, port = started_worker(processes, database_url)

    def scoring_line() -> list[str]:
        return [line for line in worker.lines() if " rapport.worker: scoring run" in line]

    [line] = wait_until(scoring_line, 60, "the first scoring run")[:1]
    metrics = http_get(port, "/metrics").text.splitlines()

    fields = (
        r'replica=\S+ scoring=regrade regrade_reason="first run" records=2 interactions=0 '
        r"crm_activities=0 .*seconds=[\d.]+$"
    )
    assert re.search(rf"INFO rapport.worker: scoring run {fields}", line)
    assert 'by_state={"not_enough_info":2}' in line
    # Nothing was synced, throttled or reset, and no scoring failed: each says 0.
    for sample in (
        "rapport_sync_items_ingested_total 0.0",
        "rapport_graph_throttled_total 0.0",
        "rapport_watchdog_resets_total 0.0",
        "rapport_sync_pages_total 0.0",
        'rapport_scoring_runs_total{outcome="failed"} 0.0',
        'rapport_sync_items_total{outcome="malformed"} 0.0',
        "rapport_dataverse_throttled_total 0.0",
    ):
        assert sample in metrics
    # The library chatter of a worker (APScheduler's every job, httpx) stays out.
    assert not [line for line in worker.lines() if " INFO apscheduler" in line]
