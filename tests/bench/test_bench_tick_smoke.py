"""The tick benchmark still runs end to end (at a tiny size), so it cannot rot."""

from __future__ import annotations

from tests.bench.runner import assert_printed, run_bench

FIGURES = (
    "first tick: everything derived and scored",
    "(a) tick, nothing new",
    "(b) tick, 1 % of activities changed",
    "(c) full regrade (full=True)",
    "(d) bare read of",
    "target (a) tick, nothing new",
    "target (b) tick, 1 % of activities changed",
)


def test_benchmark_prints_its_figures_on_sqlite() -> None:
    lines = run_bench(
        "tick.py", "--interactions", "2000", "--records", "300", "--db", "sqlite", timeout=120
    )

    assert_printed(lines, FIGURES, db="sqlite")
    text = "\n".join(lines)
    assert "scoring skipped: 0 activities derived, 0 records scored" in text  # (a)
    assert "scoring changed: 20 activities derived" in text  # (b): 1 % of 2,000
