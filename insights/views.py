"""Views by relationship: which records a seller sees, in which order, with which KPIs.

Plain rows in (mappings read from the store by storage.insights_read), plain
rows out (`shape_row`): this module filters by health state and trend, applies
the "at risk" rule, sorts, limits, and turns a stored row into the row a list,
JSON or CSV shows. The store narrows what it can (record type, owner, open,
states) so that a big book is never read whole; the final rule is here.

Sort orders (docs/insights.md), each with record type and id as the last tie-break
so that the same store always lists in the same order:

- ``health``: lowest score first (the records needing attention), unscored last;
- ``trend``: declining first, then the rest; within each, lowest score first;
- ``revenue``: largest estimated revenue first, none last;
- ``close-date``: soonest estimated close date first, none last;
- ``last-activity``: longest silence first (never any activity first).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from insights.notice import EMPLOYMENT_NOTICE
from scoring.model import HealthState, Trend

# "Emails in 30 days" counts the KPI timeline's weeks that start within this
# distance before the computation (the timeline is kept by whole weeks).
RECENT_WINDOW = timedelta(days=30)
RECORD_TYPES = ("contact", "lead", "opportunity", "account")
# Leads and opportunities have a status; a closed one keeps the health it had at close.
TYPES_WITH_STATUS = ("lead", "opportunity")
# What "at risk" may be: the store narrows to these states before the exact rule.
AT_RISK_STATES = frozenset({HealthState.POOR, HealthState.FAIR})


class SortKey(StrEnum):
    health = "health"
    trend = "trend"
    revenue = "revenue"
    close_date = "close-date"
    last_activity = "last-activity"


@dataclass(frozen=True, slots=True)
class ViewFilter:
    """What a view keeps: states and trends (None: any), at risk only, how many."""

    states: frozenset[int] | None = None
    trends: frozenset[int] | None = None
    at_risk: bool = False
    sort: SortKey = SortKey.health
    limit: int | None = 50

    def store_states(self) -> frozenset[int] | None:
        """The states the store may narrow to before the exact rules run here."""
        if not self.at_risk:
            return self.states
        return AT_RISK_STATES if self.states is None else self.states & AT_RISK_STATES


def _choices(enum: type[HealthState] | type[Trend]) -> dict[str, int]:
    return {member.name.lower().replace("_", "-"): int(member) for member in enum}


# How a filter names states and trends ("poor", "not-enough-info", "declining"): the
# CLI's --state/--trend and the web portfolio's grade/trend parameters.
STATE_CHOICES, TREND_CHOICES = _choices(HealthState), _choices(Trend)


def state_name(value: int | None) -> str | None:
    """The state's label ("Good", "Not enough info", ...); None when never graded."""
    return None if value is None else HealthState(value).name.replace("_", " ").capitalize()


def trend_name(value: int | None) -> str | None:
    return None if value is None else Trend(value).name.replace("_", " ").capitalize()


def is_at_risk(state: int | None, trend: int | None) -> bool:
    """Poor, or Fair and declining: the relationships worth a call this week."""
    return state == HealthState.POOR or (state == HealthState.FAIR and trend == Trend.DECLINING)


def keeps(row: Mapping[str, Any], view: ViewFilter) -> bool:
    state, trend = row["health_state"], row["health_trend"]
    if view.states is not None and state not in view.states:
        return False
    if view.trends is not None and trend not in view.trends:
        return False
    return not view.at_risk or is_at_risk(state, trend)


def _missing_last(value: Any) -> tuple[bool, Any]:
    return (value is None, value)


def _negated(value: float | None) -> float | None:
    return None if value is None else -value


def _date_key(value: date | datetime | None) -> tuple[bool, str]:
    # ISO text orders dates and UTC times alike, and never compares None with a date.
    return (value is None, "" if value is None else value.isoformat())


def _last_activity_key(value: datetime | None) -> tuple[bool, str]:
    return (value is not None, "" if value is None else value.isoformat())


def _sort_key(sort: SortKey) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    def tie(row: Mapping[str, Any]) -> tuple[str, str]:
        return (row["record_type"], row["record_id"])

    keys: dict[SortKey, Callable[[Mapping[str, Any]], tuple[Any, ...]]] = {
        SortKey.health: lambda r: (_missing_last(r["health_score"]), *tie(r)),
        SortKey.trend: lambda r: (
            r["health_trend"] != Trend.DECLINING,
            _missing_last(r["health_score"]),
            *tie(r),
        ),
        SortKey.revenue: lambda r: (
            _missing_last(_negated(r.get("estimated_revenue"))),
            *tie(r),
        ),
        SortKey.close_date: lambda r: (_date_key(r.get("estimated_close_date")), *tie(r)),
        SortKey.last_activity: lambda r: (_last_activity_key(r["last_activity_at"]), *tie(r)),
    }
    return keys[sort]


@dataclass(frozen=True, slots=True)
class Selection:
    """The rows a view shows, and how many matched before the limit."""

    rows: list[Mapping[str, Any]]
    matched: int


def select(rows: Iterable[Mapping[str, Any]], view: ViewFilter) -> Selection:
    """Filter, sort and limit stored rows (each with record_type, record_id,
    health_score/state/trend, last_activity_at and, where the type has them,
    estimated_revenue and estimated_close_date)."""
    kept = sorted((row for row in rows if keeps(row, view)), key=_sort_key(view.sort))
    shown = kept if view.limit is None else kept[: view.limit]
    return Selection(shown, len(kept))


def _week_start(value: str | datetime) -> datetime:
    """A timeline week's start as a UTC time (stored as a date, "2026-09-07")."""
    start = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return start if start.tzinfo is not None else start.replace(tzinfo=UTC)


def recent_emails(
    weekly: Sequence[Mapping[str, Any]], computed_at: datetime | None
) -> tuple[int | None, int | None]:
    """Emails (sent by us, received from them) in the timeline's weeks that start
    within RECENT_WINDOW before the computation; (None, None) when never computed."""
    if computed_at is None:
        return None, None
    since = computed_at - RECENT_WINDOW
    recent = [week for week in weekly if _week_start(week["week_start"]) > since]
    return (
        sum(int(week.get("emails_sent", 0)) for week in recent),
        sum(int(week.get("emails_received", 0)) for week in recent),
    )


def shape_row(row: Mapping[str, Any], details: Mapping[str, Any] | None) -> dict[str, Any]:
    """One view row as every output shows it (the JSON schema in docs/insights.md).

    `details` holds the row's JSON columns (`weekly`, `reasons`), read for the
    shown rows only; None when the record was never scored.
    """
    weekly = details["weekly"] if details else []
    reasons = details["reasons"] if details else []
    sent, received = recent_emails(weekly or [], row["computed_at"])
    return {
        "record_type": row["record_type"],
        "record_id": row["record_id"],
        "name": row["name"],
        "owner_id": row["owner_id"],
        "owner_name": row["owner_name"],
        "status": row.get("status"),
        "health_score": row["health_score"],
        "health_state": row["health_state"],
        "grade": state_name(row["health_state"]),
        "health_trend": row["health_trend"],
        "trend": trend_name(row["health_trend"]),
        "at_risk": is_at_risk(row["health_state"], row["health_trend"]),
        "estimated_revenue": row.get("estimated_revenue"),
        "estimated_close_date": row.get("estimated_close_date"),
        "last_activity_at": row["last_activity_at"],
        "last_activity_kind": row["last_activity_kind"],
        "last_activity_direction": row["last_activity_direction"],
        "next_activity_at": row["next_activity_at"],
        "next_activity_kind": row["next_activity_kind"],
        "emails_sent_30d": sent,
        "emails_received_30d": received,
        "response_rate_by_them": row["response_rate_by_them"],
        "first_reason": reasons[0] if reasons else None,
        "computed_at": row["computed_at"],
    }


# The fields of a shaped row, in order: the JSON schema and the CSV columns.
ROW_FIELDS = (
    "record_type",
    "record_id",
    "name",
    "owner_id",
    "owner_name",
    "status",
    "health_score",
    "health_state",
    "grade",
    "health_trend",
    "trend",
    "at_risk",
    "estimated_revenue",
    "estimated_close_date",
    "last_activity_at",
    "last_activity_kind",
    "last_activity_direction",
    "next_activity_at",
    "next_activity_kind",
    "emails_sent_30d",
    "emails_received_30d",
    "response_rate_by_them",
    "first_reason",
    "computed_at",
)


def rows_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """Shaped rows as CSV (`rapport health list --csv`, the web portfolio's download):
    the notice as a `#` comment line, the header (ROW_FIELDS), one line per row."""
    buffer = io.StringIO()
    buffer.write(f"# {EMPLOYMENT_NOTICE}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ROW_FIELDS)
    for row in rows:
        writer.writerow(["" if row[f] is None else _csv_cell(row[f]) for f in ROW_FIELDS])
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime | date) else str(value)
