"""Scoring's `RecordHealth` -> the column values written back to the store."""

from __future__ import annotations

from typing import Any

from scoring.model import Kpis, RecordHealth, Trend
from storage.writeback import Health, RecordResult


def kpi_columns(health: RecordHealth) -> dict[str, Any]:
    kpis: Kpis = health.kpis
    return {
        "emails_sent": kpis.emails_sent,
        "emails_received": kpis.emails_received,
        "meetings_sent": kpis.meetings_sent,
        "meetings_received": kpis.meetings_received,
        "phone_calls_made": kpis.phone_calls_made,
        "phone_calls_received": kpis.phone_calls_received,
        "replies_by_us": kpis.replies_by_us,
        "replies_by_them": kpis.replies_by_them,
        "time_spent_by_team_minutes": kpis.time_spent_by_team_minutes,
        "time_spent_by_customer_minutes": kpis.time_spent_by_customer_minutes,
        "avg_first_response_by_us_hours": kpis.avg_first_response_by_us_hours,
        "avg_first_response_by_them_hours": kpis.avg_first_response_by_them_hours,
        "response_rate_by_us": kpis.response_rate_by_us,
        "response_rate_by_them": kpis.response_rate_by_them,
        "last_activity_at": kpis.last_activity_at,
        "last_activity_kind": kpis.last_activity_kind,
        "last_activity_direction": kpis.last_activity_direction,
        "next_activity_at": kpis.next_activity_at,
        "next_activity_kind": kpis.next_activity_kind,
        "email_opens": kpis.email_opens,
        "email_clicks": kpis.email_clicks,
        "weekly": [
            {
                "week_start": week.week_start.date().isoformat(),
                "emails_sent": week.emails_sent,
                "emails_received": week.emails_received,
                "meetings": week.meetings,
                "phone_calls": week.phone_calls,
            }
            for week in kpis.weekly
        ],
        "most_contacted": [
            {"system_user_id": user_id, "interactions": count}
            for user_id, count in kpis.most_contacted
        ],
        "computation_accuracy": kpis.computation_accuracy,
        "health_score": health.score,
        "health_state": None if health.state is None else int(health.state),
        "health_trend": int(health.trend),
        "factors": [
            {
                "name": f.name,
                "value": round(f.value, 4),
                "weight": f.weight,
                "points": round(f.points, 2),
                "detail": f.detail,
            }
            for f in health.factors
        ],
        "reasons": list(health.reasons),
    }


def to_result(health: RecordHealth, *, show_health: bool) -> RecordResult:
    shown: Health = (
        (health.score, None if health.state is None else int(health.state), int(health.trend))
        if show_health
        else (None, None, int(Trend.NOT_APPLICABLE))
    )
    return RecordResult(
        record_type=health.record.type.value,
        record_id=health.record.id,
        health=shown,
        kpi=kpi_columns(health),
    )
