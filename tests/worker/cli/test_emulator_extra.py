"""The emulator is an extra: without it `rapport emulator` says how to install it, exit 2.

A separate interpreter stands for an install without the extra: it blocks the
extra's module (trustme) or the whole emulator package (the image has none)
before the CLI is imported, as a missing distribution would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

INSTALL = "pip install 'rapport[emulator]'"
HELP = ("--help",)
EMULATOR_COMMANDS = [
    ("emulator", "serve", "--fixture", "f.json"),
    ("emulator",),
    ("emulator", "generate", "--help"),
]
# One interpreter per blocked module runs every command in turn (a CLI start costs
# seconds of imports), each with its own argv, output and exit code.
BATCH = """
import contextlib, io, json, sys
module, commands = json.loads(sys.argv[1])
sys.modules[module] = None
from worker.cli.rapport import main
done = []
for args in commands:
    sys.argv = ["rapport", *args]
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
    done.append([code, out.getvalue(), err.getvalue()])
sys.__stdout__.write(json.dumps(done))
"""


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _rapport_without(module: str, commands: list[tuple[str, ...]]) -> dict[tuple[str, ...], Ran]:
    done = subprocess.run(
        [sys.executable, "-c", BATCH, json.dumps([module, commands])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {
        args: Ran(code, out, err)
        for args, (code, out, err) in zip(commands, json.loads(done.stdout), strict=True)
    }


@pytest.fixture(scope="module")
def rapport_without() -> Callable[[str, tuple[str, ...]], Ran]:
    """`rapport ARGS` in an interpreter where MODULE cannot be imported."""
    ran: dict[str, dict[tuple[str, ...], Ran]] = {}

    def run(module: str, args: tuple[str, ...]) -> Ran:
        if module not in ran:
            ran[module] = _rapport_without(module, [HELP, *EMULATOR_COMMANDS])
        return ran[module][args]

    return run


@pytest.mark.parametrize("module", ["trustme", "emulator"])
@pytest.mark.parametrize("args", EMULATOR_COMMANDS)
def test_without_the_extra_the_command_says_how_to_install_it(
    rapport_without: Callable[[str, tuple[str, ...]], Ran], module: str, args: tuple[str, ...]
) -> None:
    done = rapport_without(module, args)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("rapport: emulator not installed") and line.endswith(INSTALL)


def test_the_rest_of_the_cli_does_not_need_the_extra(
    rapport_without: Callable[[str, tuple[str, ...]], Ran],
) -> None:
    done = rapport_without("trustme", HELP)
    assert done.returncode == 0, done.stderr
    assert "emulator" in done.stdout and "db" in done.stdout


def test_the_package_refuses_to_import_without_its_extra() -> None:
    program = "import sys; sys.modules['trustme'] = None; import emulator.tokens"
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert f"the emulator needs its extra: {INSTALL}" in done.stderr.splitlines()[-1]
