"""`rapport emulator ...`: serve a fixture, or generate one (typer sub-app `app`)."""

from __future__ import annotations

import asyncio
import errno
import json
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated

import typer

from emulator.app import Emulator
from emulator.dataverse.app import DataverseEmulator
from emulator.dataverse.environment import load_environment
from emulator.fixture import FixtureError, load_fixture
from emulator.generator import write_tenant

app = typer.Typer(help="Loopback Microsoft Graph + Entra ID emulator.", no_args_is_help=True)


@app.command()
def serve(
    fixture: Annotated[
        Path, typer.Option("--fixture", exists=True, dir_okay=False, help="Fixture JSON.")
    ],
    port: Annotated[
        int,
        typer.Option(
            "--port", min=0, max=65_535, help="HTTPS port (token service + Graph); 0 = free."
        ),
    ] = 0,
    http_port: Annotated[
        int,
        typer.Option("--http-port", min=0, max=65_535, help="Plain HTTP Graph port; 0 = free."),
    ] = 0,
    host: Annotated[str, typer.Option("--host", help="Only 127.0.0.1 is allowed.")] = "127.0.0.1",
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Where the CA PEM goes.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fault RNG.")] = 0,
    dataverse: Annotated[
        Path | None,
        typer.Option(
            "--dataverse", exists=True, dir_okay=False, help="Also serve this Dataverse fixture."
        ),
    ] = None,
    dataverse_port: Annotated[
        int, typer.Option("--dataverse-port", help="Dataverse HTTPS port; 0 = free.")
    ] = 0,
) -> None:
    """Serve FIXTURE until interrupted; prints one JSON line with the addresses."""
    if host != "127.0.0.1":
        raise typer.BadParameter("the emulator listens on loopback only", param_hint="--host")
    try:
        tenant = load_fixture(fixture)
    except FixtureError as exc:
        raise typer.BadParameter(str(exc), param_hint="--fixture") from exc
    emulator = Emulator(tenant, port=port, http_port=http_port, workdir=workdir, seed=seed)
    loopback_dataverse = None
    if dataverse is not None:
        try:  # rows are checked as they load, so a bad row is named before serving
            loopback_dataverse = DataverseEmulator(
                load_environment(dataverse),
                emulator.tokens,
                port=dataverse_port,
                workdir=workdir,
                seed_value=seed,
            )
        except FixtureError as exc:
            raise typer.BadParameter(str(exc), param_hint="--dataverse") from exc
    try:
        asyncio.run(_serve(emulator, loopback_dataverse))
    except KeyboardInterrupt:
        pass
    except OSError as problem:
        if problem.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        raise typer.BadParameter(
            f"cannot listen: {problem.strerror}", param_hint="--port / --http-port"
        ) from None


async def _serve(emulator: Emulator, dataverse: DataverseEmulator | None = None) -> None:
    async with emulator, AsyncExitStack() as stack:
        addresses = {
            "authority": emulator.authority,
            "graphUrl": emulator.graph_url,
            "httpsGraphUrl": emulator.https_graph_url,
            "adminUrl": emulator.admin_url,
            "caPem": str(emulator.ca_pem_path),
            "tenantId": emulator.tenant_id,
        }
        if dataverse is not None:
            await stack.enter_async_context(dataverse)
            addresses.update(
                {
                    "dataverseUrl": dataverse.url,
                    "dataverseScope": dataverse.scope,
                    "dataverseAdminUrl": dataverse.admin_url,
                }
            )
        sys.stdout.write(json.dumps(addresses) + "\n")
        sys.stdout.flush()
        await asyncio.Event().wait()


@app.command()
def generate(
    users: Annotated[int, typer.Option("--users", min=1, help="Number of mailboxes.")],
    messages_per_user: Annotated[int, typer.Option("--messages-per-user", min=0)],
    seed: Annotated[int, typer.Option("--seed")],
    out: Annotated[
        Path, typer.Option("--out", dir_okay=False, help="Fixture path; CRM seed beside it.")
    ],
    events_per_user: Annotated[int, typer.Option("--events-per-user", min=0)] = 40,
    accounts: Annotated[
        int | None, typer.Option("--accounts", min=1, help="Default: 3 per user.")
    ] = None,
    crm_out: Annotated[
        Path | None,
        typer.Option("--crm-out", dir_okay=False, help="Also the seed for `rapport crm import`."),
    ] = None,
    dataverse: Annotated[
        bool,
        typer.Option("--dataverse", help="Also a Dataverse fixture (OUT's .dataverse.json)."),
    ] = False,
) -> None:
    """Write a synthetic tenant fixture and its CRM seed (OUT and OUT's .crm.json)."""
    if not out.parent.is_dir():
        raise typer.BadParameter(f"the directory {out.parent} does not exist", param_hint="--out")
    try:
        written = write_tenant(
            out,
            users=users,
            messages_per_user=messages_per_user,
            seed=seed,
            events_per_user=events_per_user,
            accounts=accounts,
            crm_out=crm_out,
            dataverse=dataverse,
        )
    except OSError as problem:  # read-only directory, full disk: the path, not a traceback
        reason = problem.strerror or type(problem).__name__
        raise typer.BadParameter(f"cannot write {out}: {reason}", param_hint="--out") from None
    typer.echo(json.dumps({kind: str(path) for kind, path in written.items()}))


if __name__ == "__main__":
    app()
