"""`rapport demo --dataverse`: provision, pull, score, push, and the health read back from
the Dataverse records (the demo's store is SQLite by design). Run in-process, as the console
script runs it (tests/worker/cli_runner.py): the demo serves its loopback Dataverse itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.worker.cli_runner import run_cli


def test_the_dataverse_demo_shows_health_written_onto_dataverse_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    done = run_cli(capsys, "demo", "--dataverse", "--database", str(tmp_path / "demo.db"), "--json")
    assert done.code == 0, done.err
    payload = json.loads(done.out)
    assert payload["columns_created"] == 24
    assert payload["pushed"]["pushed"] == payload["records_scored"] > 0
    # Batched: far fewer requests than records pushed.
    assert payload["pushed"]["batches"] * 10 <= payload["pushed"]["pushed"]
    records = payload["records"]
    assert records and all(0 <= row["health_score"] <= 100 for row in records)
    assert any(row["table"] == "opportunities" and row["weakest_contact"] for row in records)
    assert "rapport_healthscore" in payload["look"]
