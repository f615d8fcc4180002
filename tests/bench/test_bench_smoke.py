"""The scoring benchmark still runs end to end (at a tiny size), so it cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.score import parse_args, target_verdict

pytestmark = pytest.mark.slow  # a benchmark run in a fresh interpreter: dealt first

BENCH = Path(__file__).resolve().parents[2] / "bench" / "score.py"
FIGURES = (
    "(a) ingest: activities -> interactions",
    "(b) load + score + write back",
    "(c) bare read: the rows scoring reads",
    "    bare read: + every interaction_party",
    "ratio (b) / (c) (target)",
    "peak RSS of the run (first run)",
    "(e) columnar: load + score + write back",
    "(e) reference: load + score + write back",
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
        timeout=120,  # ~10 s alone; a loaded CI host has taken over 60
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for figure in FIGURES:
        assert any(line.startswith(figure) and line.split()[-1] for line in lines), figure
    assert "sqlite" in lines[1]


def test_verdict_says_by_how_much_a_target_is_missed() -> None:
    slow = {"load": 3.3, "score_and_write": 17.1, "interactions": 1_000_000}
    verdict = target_verdict({**slow, "read_interactions": 2.9})

    assert verdict == (
        "postgres: 6 s per 1M missed by 14.4 s (20.4 s, 3.40 times); "
        "2x the bare read missed by 5.0x (7.0x, 3.52 times)"
    )


def test_verdict_says_met_when_both_targets_are_met() -> None:
    fast = {"load": 0.5, "score_and_write": 2.0, "interactions": 500_000, "read_interactions": 2.0}

    assert target_verdict(fast) == ("postgres: 6 s per 1M met (5.0 s); 2x the bare read met (1.2x)")


def test_the_issue_sizes_set_interactions_and_records() -> None:
    ten = parse_args(["--size", "10m", "--db", "postgres"])
    one = parse_args(["--size", "1m", "--interactions", "5"])

    assert (ten.interactions, ten.records) == (10_000_000, 500_000)
    assert (one.interactions, one.records) == (1_000_000, 50_000)  # the size wins
