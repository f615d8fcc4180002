"""Two runs on one store take turns: `rapport run --once` twice, or beside the worker.

Both used to run at once and collide: on SQLite one of them exited 1 with
`UNIQUE constraint failed: interaction.key`, on PostgreSQL with a duplicate
`relationship_kpi` row. Now every run holds the store's run lock
(worker/run/lock.py): a second run waits, up to RAPPORT_RUN_WAIT_SECONDS, and
then refuses with exit 6.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests import factories as f
from tests.worker.cli_runner import run_cli
from tests.worker.run.run_processes import counts, seed_book, start_run
from tests.worker.service.harness import wait_until
from worker.run.lock import holding_run_lock, store_run_lock, this_process
from worker.service.leases import singleton
from worker.service.scheduler import SystemClock

pytestmark = pytest.mark.slow  # `rapport run` processes


@contextmanager
def writes_stalled(engine: Engine) -> Iterator[None]:
    """Hold back every run's writes until the block ends, so that a run is caught in
    its middle: SQLite, a write transaction of our own; PostgreSQL, KPI rows locked."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        assert database is not None
        writer = sqlite3.connect(database, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            writer.execute("COMMIT")
            writer.close()
        return
    with engine.connect() as connection:
        connection.execute(sa.text("LOCK TABLE relationship_kpi IN SHARE MODE"))
        try:
            yield
        finally:
            connection.rollback()


def run_lock_held(engine: Engine) -> bool:
    probe = store_run_lock(engine, "a test's probe")
    try:
        return not probe.try_take()
    finally:
        probe.release()


def test_two_runs_at_once_on_one_store_take_turns(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    activities = seed_book(engine)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with writes_stalled(engine):
        first = start_run(database_url, first_log)
        try:
            wait_until(lambda: run_lock_held(engine), 60, "the first run to start")
            second = start_run(database_url, second_log)
            wait_until(
                lambda: "another run holds the store" in second_log.read_text(),
                60,
                "the second run to say it waits for the first",
            )
        except BaseException:
            for run in (first, *([second] if "second" in locals() else [])):
                run.kill()
                run.wait(10)
            raise
    assert first.wait(120) == 0, first_log.read_text()
    assert second.wait(120) == 0, second_log.read_text()
    for log in (first_log, second_log):
        assert "Traceback" not in log.read_text()
        assert "unexpected failure" not in log.read_text()
    waiting = second_log.read_text().splitlines()[0]
    assert f"rapport run --once (pid {first.pid} on " in waiting
    assert "waiting up to 300 s" in waiting
    # Every activity once, every record scored (6 accounts of 8 contacts).
    assert counts(engine) == {
        "interaction": activities,
        "relationship_kpi": 54,
        "health_snapshot": 54,
        "scored contacts": 48,
    }


def test_a_run_that_waited_its_time_refuses_with_exit_6_and_changes_nothing(
    database_url: str,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_book(engine, accounts=1, contacts=2, emails=2)
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    monkeypatch.setenv("RAPPORT_RUN_WAIT_SECONDS", "0")
    holder = this_process("rapport run --once")
    with holding_run_lock(engine, wait_seconds=0, label=holder):
        refused = run_cli(capsys, "run", "--once", "--now", f.NOW.isoformat())
    assert refused.code == 6
    assert refused.out == ""
    (line,) = refused.err.strip().splitlines()
    assert line.startswith("rapport: another run holds the store ")
    assert f"rapport run --once (pid {os.getpid()} on " in line
    assert "RAPPORT_RUN_WAIT_SECONDS=0 s" in line
    assert counts(engine) == dict.fromkeys(counts(engine), 0)
    # Once the other run is done, the same command runs.
    assert run_cli(capsys, "run", "--once", "--now", f.NOW.isoformat()).code == 0
    assert counts(engine)["relationship_kpi"] == 3


async def _scoring_lock_taken(engine: Engine) -> bool:
    async with singleton(engine, "scoring", SystemClock(), wait_seconds=0) as held:
        return held


async def _store_held_while_scoring(engine: Engine) -> bool:
    async with singleton(engine, "scoring", SystemClock(), wait_seconds=0) as held:
        assert held
        return await asyncio.to_thread(run_lock_held, engine)


def test_the_workers_scoring_and_a_run_once_never_overlap(engine: Engine) -> None:
    with holding_run_lock(engine, wait_seconds=0, label=this_process("rapport run --once")):
        assert not asyncio.run(_scoring_lock_taken(engine))
    # ...and a run --once finds the store held while the worker scores.
    assert asyncio.run(_store_held_while_scoring(engine))
    assert not run_lock_held(engine)
