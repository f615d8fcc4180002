"""The lock files pin every dependency pyproject.toml declares, at a version it allows.

The image and CI install from the locks (tools/lock refreshes them); a dependency
added to pyproject.toml without a refresh would be missing from every install.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;]+)", re.MULTILINE)


def _declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"]]
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    requirements = [Requirement(line) for line in wanted]
    return [r for r in requirements if canonicalize_name(r.name) != "rapport"]


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text(encoding="utf-8")
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("requirements.lock", ()), ("requirements-dev.lock", ("dev", "emulator"))],
)
def test_every_declared_dependency_is_pinned_at_an_allowed_version(
    lock: str, extras: tuple[str, ...]
) -> None:
    pins = _pins(lock)
    unpinned = [str(r) for r in _declared(*extras) if canonicalize_name(r.name) not in pins]
    assert unpinned == [], f"{lock} lacks {unpinned}: run tools/lock"
    outside = [
        f"{r} (locked {pins[canonicalize_name(r.name)]})"
        for r in _declared(*extras)
        if not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
    ]
    assert outside == [], f"{lock} pins outside pyproject.toml: {outside}: run tools/lock"


def test_the_runtime_lock_holds_no_test_library() -> None:
    assert {"trustme", "pytest", "hypothesis"}.isdisjoint(_pins("requirements.lock"))
