"""Building the web app: `create_app(engine, resolve_viewer, ...)`.

The resolver is the identity seam (web.identity): `rapport web --trial` passes the
trial's; tests pass their own. No interactive API docs page: Swagger UI needs
script from a CDN, which the security policy (web.security) forbids; the OpenAPI
document is served at /api/openapi.json.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from web import admin, api, pages, signin
from web.identity import ViewerResolver, trial_viewer
from web.portfolio import BadFilter
from web.record import RecordNotFound
from web.security import SecurityHeaders
from web.settings import WebSettings, excluded_users
from web.signin import (
    BearerRefused,
    EntraSignIn,
    SignInFailed,
    SignInRequired,
    sign_in_location,
)
from web.templating import HERE, frame, templates

Clock = Callable[[], datetime]
SESSION_COOKIE = "rapport_session"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SessionCookies:
    """The signed session cookie: its key, lifetime, and whether it is sent over HTTPS only.
    Without one (the trial, tests), a random key per process and no Secure flag: the
    trial is plain HTTP on a loopback address."""

    secret: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    max_age: int = 8 * 3600
    https_only: bool = False


def create_app(
    engine: Engine,
    resolve_viewer: ViewerResolver,
    *,
    trial: bool = False,
    clock: Clock = utc_now,
    cookies: SessionCookies | None = None,
    sign_in: EntraSignIn | None = None,
    excluded: tuple[str, ...] | None = None,
) -> FastAPI:
    """The app over `engine`, serving each request to `resolve_viewer(request)`; with
    `sign_in`, its routes (/signin, /auth/callback, /signout) too. `excluded`: the
    colleagues never offered as introducers (default: RAPPORT_EXCLUDED_USERS, read now)."""
    app = FastAPI(
        lifespan=_lifespan,
        title="Rapport insights",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.resolve_viewer = resolve_viewer
    app.state.trial = trial
    app.state.clock = clock
    app.state.sign_in = sign_in
    app.state.excluded_users = excluded_users() if excluded is None else excluded
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.include_router(api.router)
    if sign_in is not None:
        app.include_router(signin.router(sign_in))
    app.add_api_route("/favicon.ico", _favicon, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(BadFilter, _bad_filter)
    app.add_exception_handler(RecordNotFound, _not_found)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(SignInFailed, _sign_in_failed)
    app.add_exception_handler(BearerRefused, _bearer_refused)
    cookies = cookies or SessionCookies()
    app.add_middleware(
        SessionMiddleware,
        secret_key=cookies.secret,
        session_cookie=SESSION_COOKIE,
        max_age=cookies.max_age,
        same_site="lax",
        https_only=cookies.https_only,
    )
    app.add_middleware(SecurityHeaders)
    return app


def _favicon() -> FileResponse:
    """The browser's tab icon (asked for by every browser, with or without the <link>)."""
    return FileResponse(HERE / "static" / "favicon.ico", media_type="image/x-icon")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    if app.state.sign_in is not None:  # MSAL's HTTP connections to the identity platform
        app.state.sign_in.close()


def trial_app(engine: Engine, clock: Clock = utc_now) -> FastAPI:
    """`rapport web --trial`: no sign-in, everyone an admin and manager (loopback only)."""
    return create_app(engine, trial_viewer, trial=True, clock=clock)


def signed_in_app(
    engine: Engine,
    settings: WebSettings,
    *,
    clock: Clock = utc_now,
    session_clock: Callable[[], float] = time.time,
) -> FastAPI:
    """Production: Entra ID sign-in (settings complete: `missing_for_sign_in()` is None),
    sessions in Secure, HttpOnly, SameSite=Lax cookies signed with the session secret."""
    assert settings.session_secret is not None
    sign_in = EntraSignIn(settings, clock=session_clock)
    cookies = SessionCookies(
        secret=settings.session_secret.get_secret_value(),
        max_age=int(sign_in.lifetime),
        https_only=True,
    )
    return create_app(engine, sign_in.viewer, clock=clock, cookies=cookies, sign_in=sign_in)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return templates.TemplateResponse(
        request,
        "error.html",
        {**frame(request, None), "status": status, "message": message},
        status_code=status,
    )


async def _bad_filter(request: Request, error: Exception) -> Response:
    return _error(request, 400, str(error))


async def _not_found(request: Request, error: Exception) -> Response:
    return _error(request, 404, "no such record, or not one of yours")


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return _error(request, error.status_code, str(error.detail))


async def _sign_in_required(request: Request, error: Exception) -> Response:
    if _wants_json(request):
        return JSONResponse(
            {"detail": "sign in first: open /signin in a browser"},
            status_code=401,
            headers={"www-authenticate": 'Bearer realm="rapport"'},
        )
    return RedirectResponse(sign_in_location(request), status_code=303)


async def _bearer_refused(request: Request, error: Exception) -> Response:
    """RFC 6750: the token is refused; the reason, one line, in the body and header."""
    reason = str(error).splitlines()[0].replace('"', "'")
    return JSONResponse(
        {"detail": f"access token refused: {reason}"},
        status_code=401,
        headers={
            "www-authenticate": f'Bearer realm="rapport", error="invalid_token", '
            f'error_description="{reason}"'
        },
    )


async def _sign_in_failed(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInFailed)
    return _error(request, error.status, f"Sign-in failed: {error}")
