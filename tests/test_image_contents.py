"""The image (and CI's copy of its install) builds every runtime package, and not the emulator.

A package added to pyproject.toml but not copied by the Dockerfile is missing from the
image, and `rapport` fails there on its first import of it.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_CODE = {"emulator"}  # the `emulator` extra: never in the image


def _runtime_packages() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return {pattern.rstrip("*") for pattern in include} - TEST_CODE


def test_the_dockerfile_copies_every_runtime_package_and_not_the_emulator() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.MULTILINE))
    assert copied == _runtime_packages()


def test_ci_builds_the_image_wheel_from_the_same_packages() -> None:
    """CI reads its list from the Dockerfile's COPY lines: its reading, run as CI runs it."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    reading = re.search(r"^packages=\$\(.*\)$", ci, re.MULTILINE)
    assert reading is not None
    copied = r'^copy_checkout "\$image/src" pyproject\.toml README\.md \$packages$'
    assert re.search(copied, ci, re.MULTILINE)
    listed = subprocess.run(
        ["bash", "-c", f"{reading.group(0)}; echo $packages"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert set(listed.split()) == _runtime_packages()
