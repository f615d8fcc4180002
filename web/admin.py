"""The admin page (members of the admins group only): the relationship-analytics settings,
editable with `rapport settings set`'s validation and audit (worker.admin_settings, the
same functions); consent and mailbox status and the last runs (`rapport status`'s
payload); the recent setting changes from the audit log.

Each setting is its own small form (POST /admin/settings: key, value, csrf_token); a
change redirects back to the page (so a reload does not post again), a refusal shows
the page again with the one-line reason and status 400.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from storage.rapport_tables import AuditEvent
from web.csrf import require_csrf
from web.deps import AdminDep, SessionDep
from web.identity import Viewer
from web.templating import render

router = APIRouter(include_in_schema=False)
AUDIT_SHOWN = 20
COMMAND = "web admin"  # the audit row's command; `rapport settings set` writes its own


def _slug(key: str) -> str:
    return key.replace(".", "-").replace("_", "-")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _settings_rows(values: dict[str, Any]) -> list[dict[str, Any]]:
    from worker.admin_settings import DEFAULTS, TEMPLATE_KEY, allowed

    return [
        {
            "key": key,
            "slug": _slug(key),
            "value": _shown(values[key]),
            "allowed": "the template text (docs/insights.md), or 'default'"
            if key == TEMPLATE_KEY
            else allowed(key, values),
            "text": key == TEMPLATE_KEY,
        }
        for key in DEFAULTS
    ]


def _audit_rows(session: Session) -> list[dict[str, Any]]:
    query = (
        sa.select(AuditEvent)
        .where(AuditEvent.action == "setting_changed")  # type: ignore[arg-type]
        .order_by(AuditEvent.id.desc())  # type: ignore[union-attr]
        .limit(AUDIT_SHOWN)
    )
    rows = []
    for event in session.scalars(query):
        details = event.details or {}
        rows.append(
            {
                "at": event.at,
                "actor": event.actor,
                "command": event.command,
                "key": details.get("key"),
                "old": _short(details.get("old")),
                "new": _short(details.get("new")),
            }
        )
    return rows


def _short(value: Any) -> str:
    text = _shown(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    error: str | None = None,
    changed: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    from storage.service_status import load_store_state, status_payload
    from worker.admin_settings import current_settings, grade_ranges

    engine = request.app.state.engine
    values = current_settings(engine)
    state = status_payload(load_store_state(engine, request.app.state.clock()))
    return render(
        request,
        viewer,
        "admin.html",
        {
            "settings": _settings_rows(values),
            "grades": grade_ranges(values),
            "audit": _audit_rows(session),
            "status": state,
            "error": error,
            "changed": changed,
        },
        status,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, viewer: AdminDep, session: SessionDep) -> HTMLResponse:
    changed = request.query_params.get("changed")
    return _page(request, viewer, session, changed=changed)


@router.post("/admin/settings", dependencies=[Depends(require_csrf)])
async def change_setting(request: Request, viewer: AdminDep, session: SessionDep) -> Response:
    from starlette.concurrency import run_in_threadpool

    from worker.admin_settings import SettingError
    from worker.admin_settings import change_setting as change

    form = await request.form()
    key, raw = str(form.get("key") or ""), str(form.get("value") or "")
    try:
        await run_in_threadpool(
            partial(
                change,
                request.app.state.engine,
                key,
                raw,
                now=request.app.state.clock(),
                actor=viewer.address,
                command=COMMAND,
                template_from_file=False,
            )
        )
    except SettingError as refusal:
        refused = partial(_page, request, viewer, session, error=str(refusal), status=400)
        return await run_in_threadpool(refused)
    return RedirectResponse(f"/admin?changed={key}#settings", status_code=303)
