"""A scoring process never outlives its parent, and a new run never overlaps one.

PostgreSQL only: SQLite always scores in one process
(worker.run.scoring_processes.usable_processes). Before the fix, after a `kill -9`
of a run with two scoring processes, the child went on writing KPI rows and
then printed a BrokenPipeError traceback.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests import factories as f
from tests.conftest import private_store
from tests.factories import POSTGRES_ONLY
from tests.worker.cli_runner import run_cli
from tests.worker.run.run_processes import counts, seed_book, start_run
from tests.worker.service.harness import wait_until
from worker.run.lock import hold_process_lock, store_run_lock

pytestmark = pytest.mark.slow  # scoring processes

WRITTEN = ("relationship_kpi", "health_snapshot", "scored contacts")


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: state, ppid, ...; None once reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        stat = _stat(int(entry.name)) if entry.name.isdigit() else None
        if stat is not None and int(stat[1]) == parent:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has ended: only its entry is left


def _sessions(engine: Engine, condition: str) -> int:
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        f" AND pid <> pg_backend_pid() AND {condition}"
    )
    with engine.connect() as connection:
        return int(connection.execute(sa.text(query)).scalar() or 0)


def _within(seconds: float, check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@POSTGRES_ONLY
def test_scoring_processes_end_with_a_killed_parent_and_write_nothing_after(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    seed_book(engine)
    log = tmp_path / "killed.log"
    children: list[int] = []
    try:
        with engine.connect() as stall:
            # Every process scores its share, then waits to write its KPI rows.
            stall.execute(sa.text("LOCK TABLE relationship_kpi IN SHARE MODE"))
            run = start_run(database_url, log, scoring_processes="3")
            wait_until(
                lambda: _sessions(engine, "wait_event_type = 'Lock'") >= 3,
                60,
                "the run and its two scoring processes to reach write-back",
            )
            children = _children(run.pid)
            assert len(children) == 2
            run.send_signal(signal.SIGKILL)
            assert run.wait(10) == -signal.SIGKILL
            ended_promptly = _within(5, lambda: not any(map(_alive, children)))
            stall.rollback()  # the lock goes: a child still alive would write now
        assert _within(30, lambda: not any(map(_alive, children)))
        wait_until(
            lambda: _sessions(engine, "state <> 'idle'") == 0,
            30,
            "the killed run's database sessions to end",
        )
    finally:
        for child in filter(_alive, children):
            os.kill(child, signal.SIGKILL)
    written = counts(engine)
    assert {name: written[name] for name in WRITTEN} == dict.fromkeys(WRITTEN, 0)
    output = log.read_text()
    assert "Traceback" not in output and "BrokenPipeError" not in output, output
    assert ended_promptly
    # A new run finds the store free at once and writes every record.
    again = start_run(
        database_url, tmp_path / "again.log", scoring_processes="3", run_wait_seconds="0"
    )
    assert again.wait(120) == 0, (tmp_path / "again.log").read_text()
    assert counts(engine)["relationship_kpi"] == 54


@POSTGRES_ONLY
def test_a_new_run_waits_for_a_scoring_process_left_by_an_earlier_run(
    database_url: str,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_book(engine, accounts=1, contacts=2, emails=2)
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    monkeypatch.setenv("RAPPORT_RUN_WAIT_SECONDS", "0")
    # What every scoring process holds for as long as it lives, its parent gone or not.
    leftover = hold_process_lock(engine)
    assert leftover is not None
    try:
        refused = run_cli(capsys, "run", "--once", "--now", f.NOW.isoformat())
    finally:
        leftover.invalidate()  # the session ends, as it does when the process ends
    assert refused.code == 6
    (line,) = refused.err.strip().splitlines()
    assert "1 scoring process(es) of an earlier run, still connected" in line
    assert counts(engine) == dict.fromkeys(counts(engine), 0)
    assert run_cli(capsys, "run", "--once", "--now", f.NOW.isoformat()).code == 0
    assert counts(engine)["relationship_kpi"] == 3


@POSTGRES_ONLY
def test_a_refusal_names_only_the_holders_of_this_store(
    database_url: str,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sqlite_template: Path,
) -> None:
    # Another store in another database of the same server, in the middle of a run: its
    # run lock has the same key as this store's, and pg_locks lists every database's locks.
    seed_book(engine, accounts=1, contacts=2, emails=2)
    monkeypatch.setenv("RAPPORT_DATABASE_URL", database_url)
    monkeypatch.setenv("RAPPORT_RUN_WAIT_SECONDS", "0")
    with private_store("postgres", tmp_path, sqlite_template) as other_store:
        elsewhere = store_run_lock(other_store, "rapport run of the other store")
        assert elsewhere.try_take()
        leftover = hold_process_lock(engine)
        assert leftover is not None
        try:
            refused = run_cli(capsys, "run", "--once", "--now", f.NOW.isoformat())
        finally:
            leftover.invalidate()
            elsewhere.release()
    assert refused.code == 6
    (line,) = refused.err.strip().splitlines()
    assert "other store" not in line
    assert "1 scoring process(es) of an earlier run, still connected" in line
