"""The web app's benchmark still runs end to end (at a tiny size), so it cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "web.py"
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


def _value(line: str) -> float | None:
    """A figure line's number (None if it has none)."""
    last = line.split()[-1]
    return float(last.replace(",", "")) if re.fullmatch(r"[\d,]+(\.\d+)?", last) else None


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
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "sqlite" in lines[0]
    for figure in FIGURES:
        matching = [line for line in lines if line.startswith(figure)]
        assert matching, figure
        for line in matching:
            if figure.startswith("target "):
                assert re.search(r": sqlite (met|missed by \d+ ms)$", line), line
            else:
                assert _value(line) is not None, line
    # Every page was answered and timed: a server time, rows and bubbles to show.
    for figure in FIGURES[:4]:
        line = next(line for line in lines if line.startswith(figure))
        assert (_value(line) or 0) > 0, line
    assert all((_value(line) or 0) > 0 for line in lines if line.startswith("    bubbles"))
    rows = next(line for line in lines if line.startswith("    rows shown"))
    assert (_value(rows) or 0) > 0, done.stdout
