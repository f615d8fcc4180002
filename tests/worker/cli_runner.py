"""Run `rapport` in-process exactly as the console script does.

A console script runs `main()` once in a fresh process; here one test process runs it
hundreds of times. `main()` mounts the emulator's commands on the app each time, so the
app is put back as it was after every call (otherwise every later call would build one
more copy of those commands: calls grow slower and slower through a session). The click
command typer builds from that same app is then the same at every call: it is built once
per process instead of at every call.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import typer
import typer.main

from worker.cli import rapport

_build_command = typer.main.get_command
_built: dict[tuple[int, int, int], object] = {}


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def _command_built_once(app: typer.Typer) -> object:
    shape = (id(app), len(app.registered_groups), len(app.registered_commands))
    if shape not in _built:
        _built[shape] = _build_command(app)
    return _built[shape]


@contextmanager
def _as_a_fresh_process() -> Iterator[None]:
    groups = list(rapport.app.registered_groups)
    typer.main.get_command = _command_built_once  # type: ignore[assignment]
    try:
        yield
    finally:
        typer.main.get_command = _build_command
        rapport.app.registered_groups[:] = groups


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    """One invocation: `main()` reads the settings afresh and disposes of the store it opened."""
    argv = sys.argv
    sys.argv = ["rapport", *args]
    try:
        with _as_a_fresh_process():
            rapport.main()
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)
