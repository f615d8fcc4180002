"""The Exchange sync benchmark still runs end to end (at a tiny size), so it cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sync.py"
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
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--users",
            "2",
            "--messages",
            "300",
            "--events",
            "5",
            "--sdk-messages",
            "50",
            "--rss-messages",
            "2000",
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
        assert any(line.startswith(figure) for line in lines), figure
    assert "{'ok': 2}" in done.stdout  # both mailboxes synced
