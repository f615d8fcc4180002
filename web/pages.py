"""The server-rendered pages: portfolio (and its CSV), relationship pipeline, record page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from insights.pipeline_chart import COLOUR_LABEL, Colour
from insights.views import SortKey
from web import introduction, pipeline, portfolio, record
from web.deps import SessionDep, ViewerDep, VisibilityDep
from web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/portfolio", status_code=303)


@router.get("/portfolio", response_class=HTMLResponse)
def portfolio_page(
    request: Request, viewer: ViewerDep, session: SessionDep, seen: VisibilityDep
) -> HTMLResponse:
    query = portfolio.parse_query(request.query_params)
    payload = portfolio.portfolio(session, query, seen)
    csv_link = "/portfolio.csv" + (f"?{request.url.query}" if request.url.query else "")
    return render(
        request,
        viewer,
        "portfolio.html",
        {
            "payload": payload,
            "params": request.query_params,
            "csv_link": csv_link,
            "grades": portfolio.GRADE_CHOICES,
            "trends": portfolio.TREND_CHOICES,
            "sorts": [key.value for key in SortKey],
        },
    )


@router.get("/portfolio.csv")
def portfolio_csv(request: Request, session: SessionDep, seen: VisibilityDep) -> Response:
    query = portfolio.parse_query(request.query_params)
    text = portfolio.as_csv(portfolio.portfolio(session, query, seen))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="portfolio.csv"'},
    )


@router.get("/pipeline", response_class=HTMLResponse)
def pipeline_page(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    seen: VisibilityDep,
    owner: str | None = None,
) -> HTMLResponse:
    data, payload = pipeline.pipeline(session, seen, request.app.state.clock(), owner)
    svg = pipeline.inline_svg(data, "Relationship pipeline")
    return render(
        request,
        viewer,
        "pipeline.html",
        {
            "payload": payload,
            "chart": Markup(svg),  # insights.pipeline_chart_image wrote it, every text escaped
            "labels": {colour.value: COLOUR_LABEL[colour] for colour in Colour},
        },
    )


@router.get("/records/{record_type}/{record_id}", response_class=HTMLResponse)
def record_view(
    request: Request,
    record_type: str,
    record_id: str,
    viewer: ViewerDep,
    session: SessionDep,
    seen: VisibilityDep,
) -> HTMLResponse:
    state = request.app.state
    payload = record.record_page(
        session, seen, record_type, record_id, state.clock(), excluded=state.excluded_users
    )
    drafts = False
    if payload["introducers"]:  # the Draft introduction buttons, while who-knows-whom is on
        from worker.admin_settings import current_settings

        drafts = introduction.switched_on(current_settings(request.app.state.engine))
    return render(request, viewer, "record.html", {"record": payload, "drafts": drafts})


@router.get("/records/{record_type}/{record_id}/introduction.eml")
def introduction_draft(
    request: Request,
    record_type: str,
    record_id: str,
    viewer: ViewerDep,
    session: SessionDep,
    seen: VisibilityDep,
    introducer: str | None = None,
) -> Response:
    """The "Draft introduction" button: the .eml `rapport introducers draft` writes."""
    from worker.admin_settings import current_settings

    name, message = introduction.introduction_eml(
        session,
        current_settings(request.app.state.engine),
        seen,
        viewer,
        record_type,
        record_id,
        introducer,
        request.app.state.clock(),
        excluded=request.app.state.excluded_users,
    )
    return Response(
        message,
        media_type="message/rfc822",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
