"""The emulator is an extra: without it `rapport emulator` says how to install it, exit 2.

A separate interpreter stands for an install without the extra: it blocks the
extra's module (trustme) or the whole emulator package (the image has none)
before the CLI is imported, as a missing distribution would.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

INSTALL = "pip install 'rapport[emulator]'"


def _rapport_without(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    program = (
        f"import sys; sys.modules[{module!r}] = None; sys.argv = ['rapport', *{list(args)!r}]; "
        "from worker.cli.rapport import main; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("module", ["trustme", "emulator"])
@pytest.mark.parametrize(
    "args",
    [
        ("emulator", "serve", "--fixture", "f.json"),
        ("emulator",),
        ("emulator", "generate", "--help"),
    ],
)
def test_without_the_extra_the_command_says_how_to_install_it(
    module: str, args: tuple[str, ...]
) -> None:
    done = _rapport_without(module, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("rapport: emulator not installed") and line.endswith(INSTALL)


def test_the_rest_of_the_cli_does_not_need_the_extra() -> None:
    done = _rapport_without("trustme", "--help")
    assert done.returncode == 0, done.stderr
    assert "emulator" in done.stdout and "db" in done.stdout


def test_the_package_refuses_to_import_without_its_extra() -> None:
    program = "import sys; sys.modules['trustme'] = None; import emulator.tokens"
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert f"the emulator needs its extra: {INSTALL}" in done.stderr.splitlines()[-1]
