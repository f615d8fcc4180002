"""The scoring benchmark still runs end to end (at a tiny size), so it cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "score.py"
FIGURES = (
    "(a) ingest: activities -> interactions",
    "(b) load + score + write back",
    "(c) bare read: the rows scoring reads",
    "    bare read: + every interaction_party",
    "ratio (b) / (c) (target)",
    "peak RSS",
)


def test_benchmark_prints_its_figures_on_sqlite() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--interactions",
            "2000",
            "--records",
            "300",
            "--db",
            "sqlite",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for figure in FIGURES:
        assert any(line.startswith(figure) and line.split()[-1] for line in lines), figure
    assert "sqlite" in lines[1]
