"""The seller-insights benchmark still runs end to end (at a tiny size), so it cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "insights.py"
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


def _has_value(line: str) -> bool:
    """A figure line ends in its number, a target line in its verdict."""
    if line.startswith("target "):
        return re.search(r": sqlite (met|missed by \d+ ms)$", line) is not None
    return re.fullmatch(r"[\d,]+(\.\d+)?", line.split()[-1]) is not None


def test_benchmark_prints_its_figures_on_sqlite() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--interactions",
            "2000",
            "--records",
            "1500",
            "--db",
            "sqlite",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for figure in FIGURES:
        assert any(line.startswith(figure) and _has_value(line) for line in lines), figure
    assert "sqlite" in lines[0]
    # the generator's won deals are scored and closed, so `deals similar` has some to compare
    compared = next(line for line in lines if line.startswith("    won deals compared with"))
    assert float(compared.split()[-1]) > 0, done.stdout
