"""`rapport web`: serve the insights web app (web/) with uvicorn.

With sign-in configured (RAPPORT_WEB_*, docs/web.md) it serves the app behind Entra ID
sign-in; without, it refuses, naming the missing setting. `--trial` runs with no sign-in
on a loopback address only. The checks (web.serve) come before the store is opened, so
a refused start touches nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from worker.cli.context import cli_of
from worker.failures import UserError

if TYPE_CHECKING:
    from web.settings import WebSettings

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8080


def register(app: typer.Typer) -> None:
    """Add `web` to `app`; a second call changes nothing."""
    if any(command.name == "web" for command in app.registered_commands):
        return
    app.command("web")(web)


def check_start(host: str, port: int, trial: bool) -> WebSettings | None:
    """Refuse a start that would serve insights to people nobody signed in (web.serve);
    the sign-in settings, None for the trial."""
    from web.serve import StartRefused
    from web.serve import check_start as web_check_start

    try:
        return web_check_start(host, port, trial)
    except StartRefused as refusal:
        raise UserError(str(refusal)) from None


def web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = DEFAULT_PORT,
    trial: Annotated[
        bool,
        typer.Option("--trial", help="No sign-in, everyone sees everything; loopback only."),
    ] = False,
) -> None:
    """Serve the insights web app: portfolio, relationship pipeline, record pages, JSON API."""
    settings = check_start(host, port, trial)
    from web.serve import address_line, serve

    store = cli_of(ctx).current_store()
    typer.echo(address_line(settings, host, port), err=True)
    serve(store, settings, host=host, port=port)
