"""The seller-insights benchmark still runs end to end (at a tiny size), so it cannot rot."""

from __future__ import annotations

import pytest

from tests.bench.runner import assert_printed, figure_lines, run_bench, value

pytestmark = pytest.mark.slow  # a benchmark run in a fresh interpreter: dealt first

FIGURES = (
    "health list: one owner's open opportunities (ms)",
    "pipeline chart: data + SVG (ms)",
    "    data + PNG (ms)",
    "    bubbles",
    "health timeline: the owner's largest deal (ms)",
    "    the busiest account (ms)",
    "deals similar: the owner's largest deal (ms)",
    "    won deals compared with",
    "target list <= 200 ms",
    "target chart <= 1000 ms",
    "target timeline <= 200 ms",
    "target similar <= 500 ms",
)


def test_benchmark_prints_its_figures_on_sqlite() -> None:
    lines = run_bench(
        "insights.py",
        *("--interactions", "2000", "--records", "1500", "--db", "sqlite", "--repeat", "1"),
        timeout=90,
    )

    assert_printed(lines, FIGURES, db="sqlite")
    assert "sqlite" in lines[0]
    # the generator's won deals are scored and closed, so `deals similar` has some to compare
    compared = figure_lines(lines, "    won deals compared with")[0]
    assert (value(compared) or 0) > 0, lines
