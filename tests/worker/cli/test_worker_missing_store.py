"""`rapport worker` pointed at a SQLite path that holds no store.

It used to open the path, which made SQLite create an empty `rapport.db` there,
and only then refuse its schema. Like every other command it now refuses first:
one line naming the path and the command that creates a store, exit 4 (README,
exit codes), and no file left behind, the worker's lock file included. With
RAPPORT_AUTO_MIGRATE=true the worker creates and migrates the store itself (that
start is tested against the real process in tests/worker/service/test_worker_sqlite.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.worker.cli_runner import run_cli
from worker.failures import EXIT_DATABASE


@pytest.mark.parametrize("where", ["missing.db", "no-such-directory/rapport.db"])
def test_a_worker_on_a_missing_store_refuses_and_creates_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    store = tmp_path / where
    monkeypatch.setenv("RAPPORT_DATABASE_URL", f"sqlite:///{store}")
    monkeypatch.setenv("RAPPORT_METRICS_PORT", "0")

    refused = run_cli(capsys, "worker")

    assert refused.code == EXIT_DATABASE, refused.err
    assert refused.err == (
        f"rapport: no Rapport store at {store} (RAPPORT_DATABASE_URL=sqlite:///{store}); "
        "to create one, run: rapport db upgrade "
        "(or start the worker with RAPPORT_AUTO_MIGRATE=true)\n"
    )
    assert refused.out == ""
    assert sorted(tmp_path.rglob("*")) == []
