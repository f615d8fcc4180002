"""Building the web app: `create_app(engine, resolve_viewer, ...)`.

The resolver is the identity seam (web.identity): `rapport web --trial` passes the
trial's; tests pass their own. No interactive API docs page: Swagger UI needs
script from a CDN, which the security policy (web.security) forbids; the OpenAPI
document is served at /api/openapi.json.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException

from web import api, pages
from web.identity import ViewerResolver, trial_viewer
from web.portfolio import BadFilter
from web.record import RecordNotFound
from web.security import SecurityHeaders
from web.templating import HERE, templates

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    engine: Engine,
    resolve_viewer: ViewerResolver,
    *,
    trial: bool = False,
    clock: Clock = utc_now,
) -> FastAPI:
    """The app over `engine`, serving each request to `resolve_viewer(request)`."""
    app = FastAPI(
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
    app.include_router(pages.router)
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(BadFilter, _bad_filter)
    app.add_exception_handler(RecordNotFound, _not_found)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(SecurityHeaders)
    return app


def trial_app(engine: Engine, clock: Clock = utc_now) -> FastAPI:
    """`rapport web --trial`: no sign-in, everyone an admin and manager (loopback only)."""
    return create_app(engine, trial_viewer, trial=True, clock=clock)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"viewer": None, "trial": request.app.state.trial, "status": status, "message": message},
        status_code=status,
    )


async def _bad_filter(request: Request, error: Exception) -> Response:
    return _error(request, 400, str(error))


async def _not_found(request: Request, error: Exception) -> Response:
    return _error(request, 404, "no such record, or not one of yours")


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return _error(request, error.status_code, str(error.detail))
