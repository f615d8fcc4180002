"""Serving the app with uvicorn: the checks before a start, the app for the mode, the server.

`rapport web` calls `check_start` then `serve`; a process that runs other things too
(the worker's web job) calls `check_start` then `web_server` and runs the returned
`uvicorn.Server`: `await server.serve()` in its event loop (or `server.run()` in a thread)
and `server.should_exit = True` to stop it. Refusals are `StartRefused`, one line naming
the option or setting, raised before the store is opened.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from web.identity import is_loopback
from web.settings import WebSettings, WebSettingsError, load_web_settings


class StartRefused(ValueError):
    """A start the app refuses; the message is the one line to show (exit 2)."""


def check_start(host: str, port: int, trial: bool) -> WebSettings | None:
    """Refuse a start that would serve insights to people nobody signed in; the sign-in
    settings when not the trial (None for the trial)."""
    if not 1 <= port <= 65535:
        raise StartRefused(f"--port: {port} is not allowed; expected 1 to 65535")
    if trial:
        if not is_loopback(host):
            raise StartRefused(
                f"--host: {host!r} is not allowed with --trial (no sign-in); expected a "
                "loopback address such as 127.0.0.1, ::1 or localhost"
            )
        return None
    try:
        settings = load_web_settings()
    except WebSettingsError as refusal:
        raise StartRefused(str(refusal)) from None
    missing = settings.missing_for_sign_in()
    if missing is not None:
        raise StartRefused(
            f"web: sign-in is not configured: {missing} is not set (docs/web.md); "
            "or run `rapport web --trial` on a loopback address to try the app"
        )
    return settings


def build_app(engine: Engine, settings: WebSettings | None) -> FastAPI:
    """The trial's app (settings None) or the signed-in one."""
    from web.app import signed_in_app, trial_app

    return trial_app(engine) if settings is None else signed_in_app(engine, settings)


def web_server(
    engine: Engine, settings: WebSettings | None, *, host: str, port: int
) -> uvicorn.Server:
    """A uvicorn server for the app, not started. Behind a reverse proxy, the proxies in
    RAPPORT_WEB_FORWARDED_ALLOW_IPS are believed about the client's address and scheme."""
    options: dict[str, Any] = {"log_level": "warning", "server_header": False}
    if settings is not None:
        options["proxy_headers"] = True
        options["forwarded_allow_ips"] = settings.forwarded_allow_ips
        if settings.tls_cert_file is not None and settings.tls_key_file is not None:
            options["ssl_certfile"] = str(settings.tls_cert_file)
            options["ssl_keyfile"] = str(settings.tls_key_file)
    config = uvicorn.Config(build_app(engine, settings), host=host, port=port, **options)
    return uvicorn.Server(config)


def address_line(settings: WebSettings | None, host: str, port: int) -> str:
    """The line a start prints: where the app listens, and how people sign in."""
    shown = f"[{host}]" if ":" in host else host
    if settings is None:
        return f"rapport web (trial, no sign-in): http://{shown}:{port}/"
    scheme = "https" if settings.tls_cert_file is not None else "http"
    return (
        f"rapport web: {scheme}://{shown}:{port}/ (sign-in with Entra ID; "
        f"redirect URI {settings.redirect_uri})"
    )


def serve(engine: Engine, settings: WebSettings | None, *, host: str, port: int) -> None:
    """Serve until interrupted (`rapport web`)."""
    web_server(engine, settings, host=host, port=port).run()
