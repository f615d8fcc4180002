"""The Exchange sync benchmark still runs end to end (at a tiny size), so it cannot rot."""

from __future__ import annotations

import pytest

from tests.bench.runner import figure_lines, run_bench

pytestmark = pytest.mark.slow  # a benchmark run in a fresh interpreter: dealt first

FIGURES = (
    "(a) decode+normalise, ours",
    "(a) SDK model deserializers",
    "(a) speed-up",
    "(b) bare httpx loop",
    "(b) real sync, sqlite",
    "(b) ratio real / bare, sqlite",
    "(c) peak RSS",
)


def test_benchmark_prints_its_figures_on_sqlite() -> None:
    lines = run_bench(
        "sync.py",
        *("--users", "2", "--messages", "300", "--events", "5", "--sdk-messages", "50"),
        *("--rss-messages", "2000", "--db", "sqlite"),
        timeout=60,
    )

    for figure in FIGURES:
        figure_lines(lines, figure)
    assert "{'ok': 2}" in "\n".join(lines)  # both mailboxes synced
