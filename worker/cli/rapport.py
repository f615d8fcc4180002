"""The `rapport` command: parse, load settings, configure logging, call one function.

The settings and the store travel down through the typer context
(worker/cli/context.py): each command takes them from `ctx.obj`."""

from __future__ import annotations

import sys
from importlib.metadata import version
from typing import Annotated

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from worker.cli import output
from worker.cli.compliance import register as register_compliance
from worker.cli.context import CliContext, cli_of
from worker.cli.crm import register as register_crm
from worker.cli.dataverse import register as register_dataverse
from worker.cli.deals import register as register_deals
from worker.cli.demo import register as register_demo
from worker.cli.emulator import mount_emulator, mount_missing_emulator
from worker.cli.exchange import register as register_exchange
from worker.cli.insights import register as register_insights
from worker.cli.introducers import register as register_introducers
from worker.cli.news import register as register_news
from worker.cli.output import AllowFarNow, JsonFlag, NowOption, emit
from worker.cli.service import register as register_service
from worker.cli.web import register as register_web
from worker.failures import EXIT_BAD_INPUT, EXIT_FAILURE, UserError, describe

app = typer.Typer(
    name="rapport",
    help="Relationship health from Exchange and CRM activity metadata, written back to the CRM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
settings_app = typer.Typer(help="Relationship-analytics admin settings.", no_args_is_help=True)
health_app = typer.Typer(help="Relationship health of CRM records.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(settings_app, name="settings")
app.add_typer(health_app, name="health")


def _show_version(asked: bool) -> None:
    if asked:
        typer.echo(f"rapport {version('rapport')}")
        raise typer.Exit()


@app.callback()
def rapport(
    ctx: typer.Context,
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    # The app's help is Typer(help=...) above; this only adds the options of `rapport` itself.
    # The settings and the store, for every command (main() made them, or a caller did not).
    ctx.ensure_object(CliContext)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Apply schema migrations up to the latest version."""
    from worker.cli import commands

    emit(commands.db_upgrade(cli_of(ctx).settings), as_json, output.db_status)


@db_app.command("current")
def db_current(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show the schema version of the store and the version this Rapport needs."""
    from worker.cli import commands

    cli = cli_of(ctx)
    emit(commands.db_current(cli.store(), cli.database_label()), as_json, output.db_status)


@settings_app.command("show")
def settings_show(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show every admin setting with its allowed values."""
    from worker.cli import commands

    emit(commands.settings_show(cli_of(ctx).current_store()), as_json, output.settings_table)


# A negative number is a value to validate, not an unknown option ("-5").
@settings_app.command("set", context_settings={"ignore_unknown_options": True})
def settings_set(ctx: typer.Context, key: str, value: str, as_json: JsonFlag = False) -> None:
    """Change one admin setting (validated, audited)."""
    from worker.cli import commands

    changed = commands.settings_set(cli_of(ctx).current_store(), key, value)
    emit(changed, as_json, output.setting_changed)


@app.command("run")
def run(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Run one pipeline tick and exit.")] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Regrade every record (default: only those whose interactions changed, "
            "and every record once per RAPPORT_REGRADE_EVERY).",
        ),
    ] = False,
    now: NowOption = None,
    allow_far_now: AllowFarNow = False,
    as_json: JsonFlag = False,
) -> None:
    """Ingest CRM activities, score every relationship, write health back."""
    from worker.cli import commands

    if not once:
        raise UserError("run: add --once (the scheduled worker is `rapport worker`)")
    moment = commands.given_now(now, allow_far=allow_far_now)
    cli = cli_of(ctx)
    store, settings = cli.current_store(), cli.settings
    summary = commands.run_once(
        store, settings, moment, interactive=not as_json and sys.stdout.isatty(), full=full
    )
    emit(summary, as_json, output.run_summary)
    if summary["exit_code"]:  # the Exchange sync failed as a whole; the summary says why
        raise typer.Exit(summary["exit_code"])


@health_app.command("show")
def health_show(
    ctx: typer.Context,
    record: Annotated[
        str,
        typer.Argument(help="TYPE:ID (contact, lead, opportunity, account) or an email address."),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Score, grade, trend, KPIs and reasons of one record."""
    from worker.cli import commands

    emit(commands.health_show(cli_of(ctx).current_store(), record), as_json, output.health_report)


register_demo(app)  # after `run`, as `rapport --help` lists them
register_compliance(app)
register_exchange(app)
register_introducers(app)
register_service(app)
register_crm(app)
register_dataverse(app)
register_web(app)
register_deals(app)
register_news(app)
register_insights(app)  # after `health show`: adds `health list`/`timeline`, `pipeline`


def _mount_emulator() -> None:
    """`rapport emulator`: the emulator's commands, or one line on how to install them.
    Once per process: `main()` may run many times in one (the CLI tests)."""
    mounted = [group.name for group in app.registered_groups]
    if "emulator" in mounted + [command.name for command in app.registered_commands]:
        return
    try:
        import emulator  # noqa: F401 - refuses to import without the `emulator` extra
    except ModuleNotFoundError as missing:  # installed without the `emulator` extra
        mount_missing_emulator(app, missing)
        return
    mount_emulator(app, "Loopback Microsoft Graph for tests and demos.")


def _usage_line(error: ClickException) -> str:
    """A usage error as the one line the docs promise, with where to read more."""
    message = error.format_message().rstrip(".")
    context = getattr(error, "ctx", None)
    if context is None:
        return f"rapport: {message}"
    return f"rapport: {message} (see: {context.command_path} --help)"


def main() -> None:
    _mount_emulator()
    cli = CliContext()  # the settings and the store of this invocation, handed to every command
    try:
        # Not standalone: click's own error box would span five lines; ours is one.
        code = app(standalone_mode=False, obj=cli)
    except NoArgsIsHelpError as help_asked:
        help_asked.show()  # `rapport db` alone: its help, as before
        sys.exit(help_asked.exit_code)
    except UsageError as error:
        typer.echo(_usage_line(error), err=True)
        sys.exit(EXIT_BAD_INPUT)
    except ClickException as error:
        typer.echo(_usage_line(error), err=True)
        sys.exit(error.exit_code)
    except typer.Abort:
        typer.echo("rapport: aborted", err=True)
        sys.exit(EXIT_FAILURE)
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        message, code = describe(error, cli.database_label())
        typer.echo(f"rapport: {message}", err=True)
        sys.exit(code)
    finally:
        cli.close()
    sys.exit(code if isinstance(code, int) else 0)
