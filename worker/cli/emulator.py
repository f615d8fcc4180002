"""`rapport emulator ...` where the emulator is not installed.

The emulator (a loopback Microsoft Graph for tests, demos and benchmarks) and
its test-only dependencies come with the `emulator` extra, not with the
runtime: the image has none of it. Without the extra the command still
exists, so that asking for it says in one line how to get it.

With the extra, `rapport emulator` is mounted as a group whose commands are read
from emulator.cli at their first use: the emulator's server (aiohttp, the
Dataverse emulator) is not loaded by `rapport --version`, `--help` or any other
command (tests/test_cli_startup.py).
"""

from __future__ import annotations

from collections.abc import MutableMapping

import typer
import typer.main
from typer._click import Command
from typer.core import TyperGroup

from worker.failures import EXIT_BAD_INPUT

INSTALL = "pip install 'rapport[emulator]'"


def mount_missing_emulator(app: typer.Typer, missing: ModuleNotFoundError) -> None:
    """Register `rapport emulator` (any arguments, --help too) as that one line, exit 2."""
    reason = f"no module named {missing.name!r}" if missing.name else str(missing)

    @app.command(
        "emulator",
        help=f"Loopback Microsoft Graph for tests and demos (not installed: {INSTALL}).",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )
    def emulator_not_installed() -> None:
        typer.echo(
            f"rapport: emulator not installed ({reason}); install it with {INSTALL}", err=True
        )
        raise typer.Exit(EXIT_BAD_INPUT)


def mount_emulator(app: typer.Typer, help_text: str) -> None:
    """Register `rapport emulator` on `app`; emulator.cli is imported when a command is needed."""
    app.add_typer(
        typer.Typer(no_args_is_help=True), name="emulator", help=help_text, cls=EmulatorGroup
    )


class EmulatorGroup(TyperGroup):
    """emulator.cli's commands, built from its typer app the first time any is asked for."""

    _given: MutableMapping[str, Command]
    _built: MutableMapping[str, Command] | None = None

    @property
    def commands(self) -> MutableMapping[str, Command]:
        if self._built is None:
            from emulator.cli import app as emulator_app

            self._built = {**typer.main.get_group(emulator_app).commands, **self._given}
        return self._built

    @commands.setter
    def commands(self, given: MutableMapping[str, Command]) -> None:
        self._given, self._built = given, None
