"""The Dataverse connector benchmark still runs end to end (at a tiny size), so it cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a benchmark run in a fresh interpreter: dealt first

BENCH = Path(__file__).resolve().parents[2] / "bench" / "dataverse.py"
FIGURES = (
    "bare paging loop:",
    "pull:",
    "pull / bare loop:",
    "push:",
    "push requests per record:",
)


def test_benchmark_prints_its_figures_on_sqlite() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--activities", "400", "--records", "200", "--db", "sqlite"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for figure in FIGURES:
        assert any(line.startswith(f"sqlite: {figure}") for line in lines), figure
    assert "200 of 200 changed" in done.stdout
