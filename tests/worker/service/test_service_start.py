"""The worker's start-up wait for its database: retried with a logged wait, then the error."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from storage.engine import create_store_engine
from worker.service.start import wait_for_database


def _unreachable(tmp_path: Path) -> Engine:
    return create_store_engine(f"sqlite:///{tmp_path / 'no-such-directory' / 'rapport.db'}")


async def test_an_unreachable_database_is_waited_for_then_its_error_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="rapport.worker"), pytest.raises(OperationalError):
        await wait_for_database(_unreachable(tmp_path), 0.4)

    [wait] = [r for r in caplog.records if r.getMessage() == "waiting for the database"]
    fields = wait.__dict__["fields"]
    assert fields["attempt"] == 1 and "unable to open database file" in fields["error"]
    assert 0.5 <= fields["next_try_seconds"] <= 1.5  # 0.5 s, jittered by up to 1 s


async def test_a_stop_request_ends_the_wait_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="rapport.worker"), pytest.raises(OperationalError):
        await wait_for_database(_unreachable(tmp_path), 60, stop=lambda: True)

    assert [r for r in caplog.records if r.getMessage() == "waiting for the database"] == []
