"""Jinja2 templates (autoescaped) with what every page's frame needs: the viewer, the
trial banner and the employment notice in the footer."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from insights.notice import EMPLOYMENT_NOTICE
from web.csrf import token_for
from web.identity import Viewer

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")


def shown(value: Any) -> str:
    """A cell: a dash for nothing, dates and times in ISO form (UTC), numbers as they are."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


templates.env.filters["shown"] = shown
templates.env.globals["notice"] = EMPLOYMENT_NOTICE


def render(
    request: Request, viewer: Viewer, name: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {**frame(request, viewer), **context}, status_code=status
    )


def frame(request: Request, viewer: Viewer | None) -> dict[str, Any]:
    """What base.html needs: the viewer, the trial banner, sign-out, the CSRF token."""
    return {
        "viewer": viewer,
        "trial": request.app.state.trial,
        "signed_in": viewer is not None and request.app.state.sign_in is not None,
        "csrf_token": token_for(request) if "session" in request.scope else None,
    }
