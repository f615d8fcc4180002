"""`rapport demo --dataverse`: provision, pull, score, push, and the health read back from
the Dataverse records (the demo's store is SQLite by design)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_dataverse_demo_shows_health_written_onto_dataverse_records(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from worker.cli.rapport import main; main()",
            "demo",
            "--dataverse",
            "--database",
            str(tmp_path / "demo.db"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["columns_created"] == 24
    assert payload["pushed"]["pushed"] == payload["records_scored"] > 0
    # Batched: far fewer requests than records pushed.
    assert payload["pushed"]["batches"] * 10 <= payload["pushed"]["pushed"]
    records = payload["records"]
    assert records and all(0 <= row["health_score"] <= 100 for row in records)
    assert any(row["table"] == "opportunities" and row["weakest_contact"] for row in records)
    assert "rapport_healthscore" in payload["look"]
