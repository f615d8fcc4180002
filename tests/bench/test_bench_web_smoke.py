"""The web app's benchmark still runs end to end (at a tiny size), so it cannot rot."""

from __future__ import annotations

import pytest

from tests.bench.runner import assert_printed, figure_lines, run_bench, value

pytestmark = pytest.mark.slow  # a benchmark run in a fresh interpreter: dealt first

FIGURES = (
    "portfolio page, one owner: p95 server time (ms)",
    "record page, the owner's largest deal: p95 server (ms)",
    "pipeline page, the owner's team: p95 server time (ms)",
    "pipeline page, a manager (all): p95 server time (ms)",
    "    p95 round trip (ms)",
    "    rows shown",
    "    bubbles",
    "target portfolio <= 300 ms p95",
    "target record <= 300 ms p95",
    "target pipeline <= 500 ms p95",
    "target pipeline_all <= 500 ms p95",
)


def test_benchmark_prints_its_figures_on_sqlite() -> None:
    lines = run_bench(
        "web.py",
        *("--interactions", "2000", "--records", "1500", "--db", "sqlite", "--repeat", "2"),
        timeout=120,
    )

    assert "sqlite" in lines[0]
    assert_printed(lines, FIGURES, db="sqlite")
    # Every page was answered and timed: a server time, rows and bubbles to show.
    for figure in (*FIGURES[:4], "    bubbles", "    rows shown"):
        for line in figure_lines(lines, figure):
            assert (value(line) or 0) > 0, line
