"""`rapport --help`, `--version` and a group's `--help` load none of the product's work:
no store (SQLAlchemy, alembic, psycopg), no settings, no scoring (numpy), no Graph SDK,
no emulator server (aiohttp).

Every `rapport` invocation, and every test that starts one, paid about two seconds of
CPU for them before the CLI imported its work inside the commands (worker/cli/).
Each case runs in a fresh interpreter: the test process has them all loaded already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "numpy",
    "alembic",
    "msgraph",
    "psycopg",
    "sqlalchemy",
    "sqlmodel",
    "pydantic_settings",
    "scoring.columnar",
    "storage.engine",
    "storage.migrate",
    "worker.settings",
    "worker.run.tick",
    "emulator.cli",
    "aiohttp",
)

# Runs `rapport ARGS` as the console script does, then prints which of HEAVY were loaded.
PROBE = """
import json, sys
from worker.cli.rapport import main
heavy, args = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["rapport", *args]
code = None
try:
    main()
except SystemExit as done:
    code = done.code
print(json.dumps({"code": code, "loaded": sorted(m for m in heavy if m in sys.modules)}))
"""


def loaded_by(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), json.dumps(args)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def loaded_by_import(module: str) -> list[str]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json, sys, {module};"
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_importing_the_cli_loads_none_of_the_work() -> None:
    assert loaded_by_import("worker.cli.rapport") == []


def test_the_exit_codes_and_user_errors_load_none_of_the_work() -> None:
    # Every command, and the CLI's last line of defence, imports worker.failures; only
    # describing a failure reads the store's errors (SQLAlchemy, alembic, pydantic).
    assert loaded_by_import("worker.failures") == []


@pytest.mark.parametrize(
    "args",
    [("--help",), ("--version",), ("web", "--help"), ("db", "--help"), ("status", "--help")],
    ids=" ".join,
)
def test_help_and_version_load_none_of_the_work(args: tuple[str, ...]) -> None:
    assert loaded_by(*args) == {"code": 0, "loaded": []}


def test_the_emulator_commands_are_read_when_asked_for() -> None:
    # `rapport emulator --help` lists them: the emulator's CLI is loaded then, and only then.
    assert loaded_by("emulator", "--help") == {"code": 0, "loaded": ["aiohttp", "emulator.cli"]}
