"""Run `rapport` in-process exactly as the console script does."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from worker.cli import commands, rapport


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    commands.settings.cache_clear()
    commands.engine.cache_clear()
    argv = sys.argv
    sys.argv = ["rapport", *args]
    try:
        rapport.main()
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    finally:
        sys.argv = argv
        if commands.engine.cache_info().currsize:
            commands.engine().dispose()
        commands.engine.cache_clear()
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)
