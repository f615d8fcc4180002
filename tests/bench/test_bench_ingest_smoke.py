"""The first-ingest benchmark still runs end to end (at a tiny size), so it cannot rot."""

from __future__ import annotations

import pytest

from tests.bench.runner import assert_printed, run_bench

pytestmark = pytest.mark.slow  # a benchmark run in a fresh interpreter: dealt first

FIGURES = (
    "(a) first ingest",
    "(a) peak RSS of the ingest's process",
    "(b) the same ingest again",
    "(c) bare read of",
    "(c) of which the activity rows",
    "target (a) first ingest",
)


def test_benchmark_prints_its_figures_on_sqlite() -> None:
    lines = run_bench(
        "ingest.py", "--interactions", "2000", "--records", "300", "--db", "sqlite", timeout=120
    )

    assert_printed(lines, FIGURES, db="sqlite")
    assert "    0 interactions written (incremental: True)" in lines  # (b) changes nothing
