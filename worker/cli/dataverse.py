"""`rapport dataverse check|provision|pull|push`: the Dataverse connector's commands.

Mounted on the main app by `register(app)`. Each command: settings -> one call in
crm.dataverse -> render. Exit 0 ready/done, 2 configuration error, 3 not ready (check).
Settings and the admin's steps: docs/dataverse.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from crm.dataverse.retry import RetryPolicy
from worker.cli.context import cli_of
from worker.cli.output import JsonFlag, console, emit

if TYPE_CHECKING:
    from crm.dataverse.client import DataverseClient
    from worker.settings import Settings

dataverse_app = typer.Typer(
    help="The Dataverse (Dynamics 365) connector: check, provision, pull, push.",
    no_args_is_help=True,
)
T = TypeVar("T")


def register(app: typer.Typer) -> None:
    """Add `dataverse` to `app`; a second call changes nothing."""
    if any(group.name == "dataverse" for group in app.registered_groups):
        return
    app.add_typer(dataverse_app, name="dataverse")


# An admin at the console: a wrong URL is said within seconds, not after minutes of backoff.
CONSOLE_POLICY = RetryPolicy(attempts=3, max_wait_seconds=5.0)


def with_client(
    settings: Settings,
    call: Callable[[DataverseClient], Awaitable[T]],
    policy: RetryPolicy | None = None,
) -> T:
    """Run `call` with a client for the configured environment (configuration errors: exit 2)."""
    from crm.dataverse.connect import connected
    from worker.failures import UserError
    from worker.run.exchange import graph_app

    if settings.dataverse_url is None:
        raise UserError(
            "RAPPORT_DATAVERSE_URL is not set; expected the environment URL, "
            "e.g. https://contoso.crm.dynamics.com"
        )
    app = graph_app(settings)
    if app is None:
        raise UserError(
            "RAPPORT_TENANT_ID and RAPPORT_CLIENT_ID must be set: the connector uses the "
            "Graph app registration's credentials (docs/dataverse.md)"
        )
    url = settings.dataverse_url

    async def run() -> T:
        async with connected(
            app, url, concurrency=settings.dataverse_concurrency, policy=policy
        ) as client:
            return await call(client)

    from consent.credentials import CredentialConfigError

    try:
        return asyncio.run(run())
    except CredentialConfigError as error:
        raise UserError(str(error)) from None


@dataverse_app.command("check")
def check_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Token, WhoAmI, read access to every table, Rapport's columns and write access to them.

    Exit 0 ready, 3 not ready (each missing piece named with its fix), 2 configuration error.
    """
    from crm.dataverse.check import run_check
    from crm.dataverse.exceptions import DataverseError
    from worker.failures import EXIT_NO_CONSENT, UserError

    settings = cli_of(ctx).settings
    prefix = settings.dataverse_prefix
    try:
        report = with_client(settings, lambda client: run_check(client, prefix), CONSOLE_POLICY)
    except DataverseError as error:  # unreachable after the retries: the URL or the network
        raise UserError(f"RAPPORT_DATAVERSE_URL: {error}; is the environment URL right?") from None
    payload = report.as_dict()

    def show(_: object) -> None:
        console.print(f"Dataverse environment {payload['environment']}")
        for probe in report.probes:
            mark = "ok" if probe.ok else "MISSING"
            detail = f": {probe.detail}" if probe.detail else ""
            console.print(f"  {mark:8} {probe.name}{detail}", markup=False)
            if probe.fix:
                console.print(f"           fix: {probe.fix}", markup=False)
        console.print("ready" if report.ready else "not ready (exit 3)")

    emit(payload, as_json, show)
    if not report.ready:
        raise typer.Exit(EXIT_NO_CONSENT)


@dataverse_app.command("provision")
def provision_command(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; create nothing.")
    ] = False,
    solution: Annotated[
        str | None,
        typer.Option("--solution", help="Unique name of the solution to add the columns to."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create Rapport's columns on contact, lead, opportunity and account (idempotent).

    Never alters or deletes a column; a column of another type under Rapport's name is
    reported as a conflict and left alone (exit 2).
    """
    from crm.dataverse.exceptions import DataverseError
    from crm.dataverse.provision import apply, plan
    from worker.failures import UserError

    settings = cli_of(ctx).settings
    prefix = settings.dataverse_prefix

    async def provision(client: DataverseClient) -> dict[str, Any]:
        planned = await plan(client, prefix)
        created = [] if dry_run else await apply(client, planned, solution)
        return {
            "dry_run": dry_run,
            "prefix": prefix,
            "plan": [column.as_dict() for column in planned.columns],
            "created": created,
            "conflicts": [column.as_dict() for column in planned.of("conflict")],
        }

    try:
        payload = with_client(settings, provision, CONSOLE_POLICY)
    except DataverseError as error:
        raise UserError(f"provision stopped: {error}; run `rapport dataverse check`") from None
    emit(payload, as_json, _render_plan)
    if payload["conflicts"]:
        raise typer.Exit(2)


def _render_plan(payload: dict[str, Any]) -> None:
    verb = {"create": "would create" if payload["dry_run"] else "created", "keep": "present"}
    for column in payload["plan"]:
        action = verb.get(column["action"], "CONFLICT")
        found = f" (found {column['found_type']}; left alone)" if "found_type" in column else ""
        console.print(
            f"{action:13} {column['table']}.{column['column']} {column['type']}{found}",
            markup=False,
        )
    if payload["dry_run"]:
        console.print("dry run: nothing created")


def _connector_run(
    settings: Settings, call: Callable[[DataverseClient], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """`call`'s report and what its requests cost; a connector failure is one line (exit 2)."""

    from crm.dataverse.exceptions import DataverseError
    from worker.failures import UserError

    async def run(client: DataverseClient) -> dict[str, Any]:
        return {**(await call(client)), "requests": client.counters.as_dict()}

    try:
        return with_client(settings, run)
    except DataverseError as error:
        raise UserError(f"Dataverse: {error}; run `rapport dataverse check`") from None


@dataverse_app.command("pull")
def pull_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Pull Dataverse into the CRM tables: everything the first time, then only changes."""
    from datetime import UTC, datetime

    from crm.dataverse.pull import Puller

    cli = cli_of(ctx)
    store, settings = cli.current_store(), cli.settings

    async def pull(client: DataverseClient) -> dict[str, Any]:
        puller = Puller(
            client, store, now=datetime.now(UTC), page_size=settings.dataverse_page_size
        )
        return (await puller.pull()).as_dict()

    payload = _connector_run(settings, pull)

    def show(_: object) -> None:
        for name, table in payload["tables"].items():
            console.print(
                f"{name:16} {table['mode']:9} written {table['written']}, unchanged "
                f"{table['unchanged']}, deleted {table['deleted'] + table['swept']}, skipped "
                f"{table['skipped']}"
                f"{' (delta link expired: re-read)' if table['rebaselined'] else ''}",
                markup=False,
            )
        for line in payload["row_problems"]["examples"][:20]:
            console.print(f"skipped: {line}", markup=False)
        requests = payload["requests"]
        console.print(
            f"requests {requests['requests']}, retries {requests['retries']}, "
            f"throttled {requests['throttles']}"
        )

    emit(payload, as_json, show)


@dataverse_app.command("push")
def push_command(
    ctx: typer.Context,
    clear: Annotated[
        bool,
        typer.Option("--clear", help="Empty Rapport's columns on every record it wrote to."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write the health that changed since the last push onto the Dataverse records."""
    from datetime import UTC, datetime

    from crm.dataverse.push import Pusher

    cli = cli_of(ctx)
    store, settings = cli.current_store(), cli.settings

    async def push(client: DataverseClient) -> dict[str, Any]:
        pusher = Pusher(
            client,
            store,
            prefix=settings.dataverse_prefix,
            now=datetime.now(UTC),
            batch_size=settings.dataverse_push_batch_size,
        )
        return (await pusher.push(clear_all=clear)).as_dict()

    payload = _connector_run(settings, push)

    def show(_: object) -> None:
        console.print(
            f"records pushed {payload['pushed']} (cleared {payload['cleared']}), unchanged "
            f"{payload['unchanged']}, failed {payload['failed']} (retried next run), in "
            f"{payload['batches']} batches; {payload['requests']['requests']} requests",
            markup=False,
        )
        for record in payload["missing"]:
            console.print(f"skipped (deleted in Dataverse): {record}", markup=False)

    emit(payload, as_json, show)
