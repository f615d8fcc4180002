"""Reads behind "similar won deals" (insights/similar_deals.py).

One query for every scored won deal's features and its KPIs as at close (or
for one open deal's): the opportunity, its owner's team, its account's contact
count, its stakeholders and distinct roles (grouped subqueries, never a query
per deal), its stored KPI row's weekly timeline and health, and the close day
from its history (`health_snapshot.closed_as`, else `actual_close_date`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.crm_tables import Contact, Opportunity, OpportunityStakeholder, SystemUser
from storage.rapport_tables import HealthSnapshot, RelationshipKpi
from storage.types import core_table

DEAL = core_table(Opportunity)
CONTACT = core_table(Contact)
STAKEHOLDER = core_table(OpportunityStakeholder)
USER = core_table(SystemUser)
KPI = core_table(RelationshipKpi)
SNAPSHOT = core_table(HealthSnapshot)


def _features_query() -> sa.Select[Any]:
    contacts = (
        sa.select(CONTACT.c.account_id, sa.func.count().label("n"))
        .group_by(CONTACT.c.account_id)
        .subquery()
    )
    team = (
        sa.select(
            STAKEHOLDER.c.opportunity_id,
            sa.func.count().label("people"),
            sa.func.count(sa.distinct(STAKEHOLDER.c.role)).label("roles"),
        )
        .group_by(STAKEHOLDER.c.opportunity_id)
        .subquery()
    )
    closes = (
        sa.select(SNAPSHOT.c.record_id, sa.func.max(SNAPSHOT.c.day).label("day"))
        .where(SNAPSHOT.c.record_type == "opportunity", SNAPSHOT.c.closed_as == "won")
        .group_by(SNAPSHOT.c.record_id)
        .subquery()
    )
    return (
        sa.select(
            DEAL.c.id,
            DEAL.c.name,
            DEAL.c.status,
            DEAL.c.estimated_revenue,
            DEAL.c.created_at,
            DEAL.c.actual_close_date,
            USER.c.team,
            sa.func.coalesce(contacts.c.n, 0).label("account_contacts"),
            sa.func.coalesce(team.c.people, 0).label("stakeholders"),
            sa.func.coalesce(team.c.roles, 0).label("roles"),
            closes.c.day.label("closed_day"),
            KPI.c.weekly,
            KPI.c.health_score,
        )
        .select_from(DEAL)
        .outerjoin(USER, USER.c.id == DEAL.c.owner_id)
        .outerjoin(contacts, contacts.c.account_id == DEAL.c.account_id)
        .outerjoin(team, team.c.opportunity_id == DEAL.c.id)
        .outerjoin(closes, closes.c.record_id == DEAL.c.id)
        .join(
            KPI,
            sa.and_(KPI.c.record_type == "opportunity", KPI.c.record_id == DEAL.c.id),
            isouter=True,
        )
    )


def _row(row: Any) -> dict[str, Any]:
    found: dict[str, Any] = row._asdict()
    created = found.pop("created_at")
    found["created_on"] = created.date() if isinstance(created, datetime) else created
    recorded, actual = found.pop("closed_day"), found.pop("actual_close_date")
    closed = recorded if recorded is not None else actual
    found["closed_on"] = (
        closed
        if isinstance(closed, date) or closed is None
        else (date.fromisoformat(str(closed)[:10]))
    )
    found["weekly"] = found["weekly"] or []
    return found


def deal_features(*, session: Session, opportunity_id: str) -> dict[str, Any] | None:
    """One opportunity's features (any status), or None when there is none."""
    found = session.execute(_features_query().where(DEAL.c.id == opportunity_id)).first()
    return None if found is None else _row(found)


def won_deal_features(*, session: Session) -> list[dict[str, Any]]:
    """Every won deal that was scored (it has its KPIs as at close), by id."""
    query = _features_query().where(DEAL.c.status == "won", KPI.c.record_id.is_not(None))
    return [_row(row) for row in session.execute(query.order_by(DEAL.c.id))]
