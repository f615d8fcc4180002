"""The relationship pipeline: the visible open opportunities as insights.pipeline_chart's
bubbles, drawn by the same renderer as `rapport pipeline chart`, each bubble linking to
its record page in this app.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from insights import pipeline_chart, pipeline_chart_image
from insights.notice import EMPLOYMENT_NOTICE
from storage import insights_read
from web.portfolio import owner_id_of
from web.visibility import Visibility

RECORD_PAGE = "/records/opportunity/{id}"


def pipeline(
    session: Session, seen: Visibility, now: datetime, owner: str | None = None
) -> tuple[pipeline_chart.ChartData, dict[str, Any]]:
    """The chart data of the open deals the viewer may see (one owner's, by id or
    address, when the `owner` parameter names one)."""
    owner_id = owner_id_of(session, (owner or "").strip() or None)
    deals = insights_read.view_rows(
        session=session,
        record_type="opportunity",
        owner_id=owner_id,
        owner_ids=seen.owners,
        open_only=True,
    )
    shown = [d["record_id"] for d in deals if pipeline_chart.is_shown(d, now)]
    reasons = insights_read.first_reasons(
        session=session, record_type="opportunity", record_ids=shown
    )
    details = {record_id: {"reasons": [reason]} for record_id, reason in reasons.items() if reason}
    data = pipeline_chart.chart_of(deals, details, now=now, record_url=RECORD_PAGE)
    return data, {"notice": EMPLOYMENT_NOTICE, **data.as_json()}


def inline_svg(data: pipeline_chart.ChartData, title: str) -> str:
    """The chart as an <svg> element to place in a page (it has no XML prologue)."""
    return pipeline_chart_image.svg_text(data, title)
