"""The JSON API behind the pages (/api/...), for a CRM or a BI tool; OpenAPI at
/api/openapi.json. The same reads and the same visibility rule as the pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from web import pipeline, portfolio, record
from web.deps import SessionDep, ViewerDep, VisibilityDep

router = APIRouter(prefix="/api", tags=["insights"])


@router.get("/me")
def me(viewer: ViewerDep) -> dict[str, Any]:
    """Who the API serves this request to, and their roles."""
    return {
        "system_user_id": viewer.system_user_id,
        "name": viewer.name,
        "is_manager": viewer.is_manager,
        "is_admin": viewer.is_admin,
    }


@router.get("/portfolio")
def portfolio_rows(request: Request, session: SessionDep, seen: VisibilityDep) -> dict[str, Any]:
    """Records by relationship. Query: type, owner, grade, trend, at_risk, at_risk_first,
    closed, sort, limit (docs/web.md); rows as `rapport health list --json`."""
    query = portfolio.parse_query(request.query_params)
    return portfolio.portfolio(session, query, seen)


@router.get("/pipeline")
def pipeline_bubbles(
    request: Request, session: SessionDep, seen: VisibilityDep, owner: str | None = None
) -> dict[str, Any]:
    """The relationship pipeline's bubbles (visible open opportunities)."""
    return pipeline.pipeline(session, seen, request.app.state.clock(), owner)[1]


@router.get("/records/{record_type}/{record_id}")
def record_insights(
    request: Request, record_type: str, record_id: str, session: SessionDep, seen: VisibilityDep
) -> dict[str, Any]:
    """One record: health, factors, reasons, timeline, stakeholders, introducers, similar
    won deals (open opportunities) and What's New (the record's account)."""
    state = request.app.state
    return record.record_page(
        session, seen, record_type, record_id, state.clock(), excluded=state.excluded_users
    )
