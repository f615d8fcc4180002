"""Nothing in the packages, tests, bench/ or tools/ reads beside the checkout.

A fork or a fresh clone has nothing beside it; CI's clone does (the workspace's shared/
directory), so a read there passes in CI and fails everywhere else. .ci/run also runs the
README's test command from a copy with nothing beside it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent
# The directory that sits beside the checkout on the machines where Rapport was first
# built (Microsoft's full OpenAPI files, the data sets).
OUTSIDE_REFERENCES = (
    re.compile(r"\.\.['\"]?\s*[/\\,]\s*['\"]?shared\b"),
    re.compile(r"\bshared['\"]?\s*[/\\,]\s*['\"]?(graph-openapi|datasets|hooks)\b"),
)
FILE_PARENT = re.compile(r"parents\[(\d+)\]|\.parent\b")
NOT_SOURCE = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}


def _source_roots() -> list[Path]:
    """The packages (as pyproject.toml finds them), the tests, bench/ and tools/."""
    found = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = [pattern.rstrip("*") for pattern in found["packages"]["find"]["include"]]
    return [CHECKOUT / name for name in [*packages, "tests", "bench", "tools"]]


def _source_files() -> list[Path]:
    files = []
    for root in _source_roots():
        for path in sorted(root.rglob("*")):
            if path.is_file() and not NOT_SOURCE & set(path.relative_to(CHECKOUT).parts):
                files.append(path)
    return files


def _climbs_out(relative: Path, line: str) -> bool:
    """Whether `Path(__file__)` on this line goes up past the checkout's root: a file at
    depth d (tests/x.py: 2) reaches the root with d steps up; parents[N] is N + 1 steps."""
    if "__file__" not in line:
        return False
    steps = [int(n) + 1 if n else 1 for n in FILE_PARENT.findall(line)]
    ups = max(steps) if "parents[" in line else len(steps)
    return ups > len(relative.parts)


def reads_beside_the_checkout(relative: Path, line: str) -> bool:
    return any(p.search(line) for p in OUTSIDE_REFERENCES) or _climbs_out(relative, line)


def test_nothing_in_the_packages_tests_or_bench_reads_beside_the_checkout() -> None:
    files = _source_files()
    assert CHECKOUT / "tests" / "emulator" / "emulator_openapi.py" in files
    # This file is left out: its table below spells the reads the check must find.
    files.remove(Path(__file__).resolve())
    found = []
    for path in files:
        relative = path.relative_to(CHECKOUT)
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if reads_beside_the_checkout(relative, line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []


@pytest.mark.parametrize(
    ("line", "reads_outside"),
    [
        ('DIR = Path(__file__).resolve().parents[3] / "shared/graph-openapi"', True),
        ('DIR = Path(__file__).resolve().parents[3] / "openapi"', True),
        ('DIR = Path(__file__).resolve().parent.parent.parent.parent / "openapi"', True),
        ('rows = open(os.path.join(ROOT, "..", "shared", "datasets", "x.csv"))', True),
        ('DIR = ROOT / ".." / "shared"', True),
        ('DIR = os.path.join(ROOT, "shared", "graph-openapi")', True),
        ('DIR = Path(__file__).resolve().parents[2] / "docs"', False),
        ('DIR = Path(__file__).resolve().parent / "openapi"', False),
        ('record = factories.activity(activity_id="shared")', False),
    ],
)
def test_the_check_tells_a_read_beside_the_checkout(line: str, reads_outside: bool) -> None:
    # As if the line were in tests/emulator/, where the faithfulness tests once read
    # Microsoft's files from parents[3] / "shared".
    assert reads_beside_the_checkout(Path("tests/emulator/probe.py"), line) is reads_outside
