"""`rapport emulator ...` where the emulator is not installed.

The emulator (a loopback Microsoft Graph for tests, demos and benchmarks) and
its test-only dependencies come with the `emulator` extra, not with the
runtime: the image has none of it. Without the extra the command still
exists, so that asking for it says in one line how to get it.
"""

from __future__ import annotations

import typer

INSTALL = "pip install 'rapport[emulator]'"


def mount_missing_emulator(app: typer.Typer, missing: ModuleNotFoundError) -> None:
    """Register `rapport emulator` (any arguments, --help too) as that one line, exit 2."""
    from worker.failures import EXIT_BAD_INPUT

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
