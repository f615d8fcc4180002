"""`rapport web`: serve the insights web app (web/) with uvicorn.

Only the trial runs today: no sign-in, so it listens on a loopback address only
and says so on every page. Without --trial it refuses to start, since production
sign-in (Entra ID) is not built yet (docs/web.md). The checks come before the
store is opened, so a refused start touches nothing.
"""

from __future__ import annotations

from typing import Annotated

import typer

from worker.cli import commands
from worker.failures import UserError

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8080


def register(app: typer.Typer) -> None:
    """Add `web` to `app`; a second call changes nothing."""
    if any(command.name == "web" for command in app.registered_commands):
        return
    app.command("web")(web)


def check_start(host: str, port: int, trial: bool) -> None:
    """Refuse a start that would serve insights to people nobody signed in."""
    from web.identity import is_loopback

    if not 1 <= port <= 65535:
        raise UserError(f"--port: {port} is not allowed; expected 1 to 65535")
    if not trial:
        raise UserError(
            "web: sign-in is not configured yet (Entra ID sign-in is still to come); "
            "run `rapport web --trial` on a loopback address to try the app"
        )
    if not is_loopback(host):
        raise UserError(
            f"--host: {host!r} is not allowed with --trial (no sign-in); expected a "
            "loopback address such as 127.0.0.1, ::1 or localhost"
        )


def web(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = DEFAULT_PORT,
    trial: Annotated[
        bool,
        typer.Option("--trial", help="No sign-in, everyone sees everything; loopback only."),
    ] = False,
) -> None:
    """Serve the insights web app: portfolio, relationship pipeline, record pages, JSON API."""
    check_start(host, port, trial)
    import uvicorn

    from web.app import trial_app

    store = commands._migrated_engine()
    typer.echo(f"rapport web (trial, no sign-in): http://{host}:{port}/", err=True)
    uvicorn.run(trial_app(store), host=host, port=port, log_level="warning")
