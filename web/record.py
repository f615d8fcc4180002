"""A record page's content: health, factors, reasons, timeline metadata, stakeholders,
the weakest key contact and the introducers, read for one visible record.

A record the viewer may not see is reported exactly as one that does not exist, so
that its existence does not leak.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from insights import similar_deals, timeline, views
from insights.notice import EMPLOYMENT_NOTICE
from scoring.introducers import INTRODUCED_TYPES
from storage import health_read, insights_read, news_store, similar_deals_read
from storage.crm_tables import OpportunityStakeholder
from storage.introducer_optout_read import current_introducers
from storage.rapport_tables import RelationshipKpi
from storage.types import core_table
from storage.writeback import RECORD_TABLES
from web.visibility import Visibility

INTERACTIONS_SHOWN = 50
NEWS_SHOWN = 20  # as `rapport news show` without --limit
STAKEHOLDER = core_table(OpportunityStakeholder)
KPI = core_table(RelationshipKpi)
KPI_FIELDS = (
    "emails_sent",
    "emails_received",
    "meetings_sent",
    "meetings_received",
    "phone_calls_made",
    "phone_calls_received",
    "replies_by_us",
    "replies_by_them",
    "response_rate_by_us",
    "response_rate_by_them",
    "avg_first_response_by_us_hours",
    "avg_first_response_by_them_hours",
    "time_spent_by_team_minutes",
    "time_spent_by_customer_minutes",
    "last_activity_at",
    "last_activity_kind",
    "last_activity_direction",
    "next_activity_at",
    "next_activity_kind",
    "computed_at",
)


class RecordNotFound(LookupError):
    """No such record, or one the viewer may not see."""


def visible_record(
    session: Session, seen: Visibility, record_type: str, record_id: str
) -> tuple[dict[str, Any], str | None]:
    """The record and its owner, if it exists and the viewer may see it; else RecordNotFound,
    the same for both, so a page never tells which records exist beyond the viewer's."""
    row = health_read.load_record(session=session, record_type=record_type, record_id=record_id)
    owner_id = (
        None
        if row is None
        else insights_read.record_owner(session=session, record_type=record_type, row=row)
    )
    if row is None or not seen.allows(owner_id):
        raise RecordNotFound(record_id)
    return row, owner_id


def record_page(
    session: Session,
    seen: Visibility,
    record_type: str,
    record_id: str,
    now: datetime,
    *,
    excluded: tuple[str, ...],
) -> dict[str, Any]:
    """Everything the record page and GET /api/records/{type}/{id} show, as of `now`
    (the app's clock: where a never-scored record's timeline starts); `excluded`:
    the colleagues never offered as introducers (RAPPORT_EXCLUDED_USERS)."""
    if record_type not in views.RECORD_TYPES:
        raise RecordNotFound(record_type)
    row, owner_id = visible_record(session, seen, record_type, record_id)
    kpi = health_read.load_kpi(session=session, record_type=record_type, record_id=record_id)
    return {
        "notice": EMPLOYMENT_NOTICE,
        "record_type": record_type,
        "record_id": record_id,
        "name": row["display_name"],
        "status": row.get("status"),
        "owner_id": owner_id,
        "estimated_revenue": row.get("estimated_revenue"),
        "estimated_close_date": row.get("estimated_close_date"),
        **_health(kpi),
        "timeline": _timeline(session, record_type, record_id, kpi, now),
        "stakeholders": _stakeholders(session, record_id) if record_type == "opportunity" else [],
        "weakest_contact": _weakest(session, kpi),
        "introducers": _introducers(session, record_type, record_id, now, excluded),
        "similar_won_deals": (
            _similar(session, record_id, now) if record_type == "opportunity" else None
        ),
        "news": _news(session, record_type, record_id, row),
    }


def _health(kpi: dict[str, Any] | None) -> dict[str, Any]:
    state = None if kpi is None else kpi["health_state"]
    trend = None if kpi is None else kpi["health_trend"]
    return {
        "health_score": None if kpi is None else kpi["health_score"],
        "health_state": state,
        "grade": views.state_name(state),
        "health_trend": trend,
        "trend": views.trend_name(trend),
        "at_risk": views.is_at_risk(state, trend),
        "factors": [] if kpi is None else kpi["factors"] or [],
        "reasons": [] if kpi is None else kpi["reasons"] or [],
        "kpis": None if kpi is None else {field: kpi[field] for field in KPI_FIELDS},
    }


def _timeline(
    session: Session, record_type: str, record_id: str, kpi: dict[str, Any] | None, now: datetime
) -> dict[str, Any]:
    read = partial(
        insights_read.timeline_interactions,
        session=session,
        record_type=record_type,
        record_id=record_id,
    )
    return timeline.drill_down(
        kpi, weeks=timeline.TIMELINE_WEEKS, limit=INTERACTIONS_SHOWN, now=now, read=read
    )


def _stakeholders(session: Session, opportunity_id: str) -> list[dict[str, Any]]:
    """A deal's stakeholders with their own health, weakest first."""
    contacts = RECORD_TABLES["contact"]
    query = (
        sa.select(
            STAKEHOLDER.c.contact_id,
            STAKEHOLDER.c.role,
            contacts.c.full_name,
            KPI.c.health_score,
            KPI.c.health_state,
            KPI.c.health_trend,
        )
        .outerjoin(contacts, contacts.c.id == STAKEHOLDER.c.contact_id)
        .outerjoin(
            KPI, (KPI.c.record_type == "contact") & (KPI.c.record_id == STAKEHOLDER.c.contact_id)
        )
        .where(STAKEHOLDER.c.opportunity_id == opportunity_id)
    )
    rows = [row._asdict() for row in session.execute(query)]
    for row in rows:
        row["grade"] = views.state_name(row["health_state"])
        row["trend"] = views.trend_name(row["health_trend"])
    rows.sort(key=lambda r: (r["health_score"] is None, r["health_score"], r["contact_id"]))
    return rows


def _weakest(session: Session, kpi: dict[str, Any] | None) -> dict[str, Any] | None:
    if kpi is None or not kpi.get("weakest_contact_id"):
        return None
    contacts = RECORD_TABLES["contact"]
    name = session.scalar(
        sa.select(contacts.c.full_name).where(contacts.c.id == kpi["weakest_contact_id"])
    )
    return {
        "contact_id": kpi["weakest_contact_id"],
        "name": name,
        "role": kpi["weakest_contact_role"],
        "health_score": kpi["weakest_contact_score"],
        "since": kpi["weakest_contact_since"],
    }


def _introducers(
    session: Session, record_type: str, record_id: str, now: datetime, excluded: tuple[str, ...]
) -> list[dict[str, Any]]:
    if record_type not in INTRODUCED_TYPES:
        return []
    return current_introducers(
        session=session, record_type=record_type, record_id=record_id, configured=excluded, now=now
    )


def _similar(session: Session, opportunity_id: str, now: datetime) -> dict[str, Any] | None:
    """Similar won deals and the KPI comparison, as `rapport deals similar` computes them
    (insights.similar_deals over storage.similar_deals_read); None unless the deal is open.
    Won deals of every owner are the benchmark, whoever looks: names, not links."""
    found = similar_deals_read.deal_features(session=session, opportunity_id=opportunity_id)
    if found is None or found["status"] != "open":
        return None
    today = now.date()
    deal = similar_deals.Deal.from_row(found)
    won = [
        similar_deals.Deal.from_row(row)
        for row in similar_deals_read.won_deal_features(session=session)
    ]
    result = similar_deals.find_similar(deal, won, today)
    return similar_deals.shown(
        deal, result, today, extra=lambda match: {"revenue": match.deal.revenue}
    )


def _news(
    session: Session, record_type: str, record_id: str, row: dict[str, Any]
) -> dict[str, Any] | None:
    """What's New for the record's account, newest first, as `rapport news show` lists it;
    None when the record has no account."""
    account_id = record_id if record_type == "account" else row.get("account_id")
    if not account_id:
        return None
    items = news_store.account_items(session=session, account_id=account_id, limit=NEWS_SHOWN)
    return {"account_id": account_id, "retention_days": news_store.RETENTION_DAYS, "items": items}
