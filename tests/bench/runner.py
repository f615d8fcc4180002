"""The benchmarks' smoke tests: run a bench/ script at a tiny size, read its figure lines.

A figure line is "label ... number"; a target line ends in "<db> met" or "<db> missed
by N ms". The smoke tests check that every figure is still printed with a value, so a
benchmark cannot rot between the full-size runs made by hand.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
_NUMBER = re.compile(r"[\d,]+(\.\d+)?")


def run_bench(script: str, *arguments: str, timeout: float) -> list[str]:
    """bench/`script` run with `arguments` in a fresh interpreter: its stdout lines."""
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def value(line: str) -> float | None:
    """A figure line's number (None if it does not end in one)."""
    last = line.split()[-1] if line.split() else ""
    return float(last.replace(",", "")) if _NUMBER.fullmatch(last) else None


def figure_lines(lines: list[str], figure: str) -> list[str]:
    """The lines printing `figure`; at least one, or the test fails naming it."""
    found = [line for line in lines if line.startswith(figure)]
    assert found, f"{figure!r} not printed"
    return found


def assert_printed(lines: list[str], figures: tuple[str, ...], *, db: str) -> None:
    """Every figure printed with a number, every target ("target ...") with its verdict."""
    for figure in figures:
        for line in figure_lines(lines, figure):
            if figure.startswith("target "):
                assert re.search(rf": {db} (met|missed by \d+ ms)$", line), line
            else:
                assert value(line) is not None, line
