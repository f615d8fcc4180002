"""What the seller-insights commands do: read the store, run the pure insights, return plain data.

`health list`, `pipeline chart` and `health timeline` (worker/cli/insights.py)
and the demo's "at risk" lists (worker/cli/commands.py) all go through here, so the
demo shows what `rapport health list` would.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from insights import pipeline_chart, timeline, views
from insights.notice import EMPLOYMENT_NOTICE
from scoring.model import HealthState
from storage import health_read, insights_read, migrate
from storage.engine import session_scope
from worker.cli import commands
from worker.cli.context import CliContext
from worker.failures import UserError

RECORD_URL_SETTING = "RAPPORT_RECORD_URL_TEMPLATE"
MAX_LIMIT = 100_000
MAX_INTERACTIONS = 1_000


STATE_CHOICES, TREND_CHOICES = views.STATE_CHOICES, views.TREND_CHOICES


def parse_choices(option: str, raw: str | None, choices: dict[str, int]) -> frozenset[int] | None:
    """A comma-separated list of names (or the stored numbers) as numbers; None: any."""
    if raw is None:
        return None
    picked = set()
    for part in (piece.strip().lower() for piece in raw.split(",")):
        if part in choices:
            picked.add(choices[part])
        elif part.isdigit() and int(part) in choices.values():
            picked.add(int(part))
        else:
            raise UserError(
                f"{option}: {part!r} is not allowed; expected one or more of "
                f"{', '.join(choices)} (comma-separated)"
            )
    return frozenset(picked)


def check_limit(option: str, limit: int, largest: int) -> int:
    if not 0 <= limit <= largest:
        raise UserError(f"{option}: {limit} is not allowed; expected 0 (no limit) to {largest}")
    return limit


def _store(cli: CliContext) -> Engine:
    store = cli.store()
    _require_current(store)
    return store


@cache
def _require_current(store: Engine) -> None:
    """The schema check, once per engine: it loads every migration script (~70 ms),
    which a process that answers many views (a web app, the benchmark) pays once."""
    migrate.require_current(store)


def _owner(session: Session, owner: str | None) -> tuple[str, str] | None:
    if owner is None:
        return None
    found = insights_read.find_user(session=session, user=owner.strip())
    if found is None:
        raise UserError(f"--owner: no system user has the id or address {owner!r}")
    return found


@dataclass(frozen=True, slots=True)
class Scope:
    """Which records a view reads: types, one owner's, open ones only where that applies."""

    record_types: Sequence[str]
    owner_id: str | None = None
    open_only: bool = True


@dataclass(frozen=True, slots=True)
class Listed:
    rows: list[tuple[dict[str, Any], dict[str, Any] | None]]  # stored row, its JSON columns
    matched: int


def list_records(session: Session, scope: Scope, view: views.ViewFilter) -> Listed:
    """The rows a view shows, as read: one query per record type, then the JSON
    columns of the rows shown (one query per type again)."""
    candidates: list[dict[str, Any]] = []
    for record_type in scope.record_types:
        candidates += insights_read.view_rows(
            session=session,
            record_type=record_type,
            owner_id=scope.owner_id,
            open_only=scope.open_only,
            states=view.store_states(),
        )
    selection = views.select(candidates, view)
    details = insights_read.rows_details(session=session, rows=selection.rows)
    rows = [
        (dict(row), details.get((row["record_type"], row["record_id"]))) for row in selection.rows
    ]
    return Listed(rows, selection.matched)


def health_list(
    cli: CliContext,
    *,
    record_type: str | None,
    owner: str | None,
    states: str | None,
    trends: str | None,
    open_only: bool | None,
    at_risk: bool,
    sort: views.SortKey,
    limit: int,
) -> dict[str, Any]:
    """`rapport health list`: the payload every output format is made from."""
    view = views.ViewFilter(
        states=parse_choices("--state", states, STATE_CHOICES),
        trends=parse_choices("--trend", trends, TREND_CHOICES),
        at_risk=at_risk,
        sort=sort,
        limit=check_limit("--limit", limit, MAX_LIMIT) or None,
    )
    types = views.RECORD_TYPES if record_type is None else (record_type,)
    with session_scope(_store(cli)) as session:
        user = _owner(session, owner)
        scope = Scope(types, None if user is None else user[0], open_only is not False)
        listed = list_records(session, scope, view)
    return {
        "notice": EMPLOYMENT_NOTICE,
        "record_type": record_type,
        "owner": None if user is None else {"id": user[0], "name": user[1]},
        "open_only": scope.open_only,
        "states": sorted(view.states) if view.states is not None else None,
        "trends": sorted(view.trends) if view.trends is not None else None,
        "at_risk": at_risk,
        "sort": sort.value,
        "limit": view.limit,
        "matched": listed.matched,
        "rows": [views.shape_row(row, detail) for row, detail in listed.rows],
    }


# The demo's two lists (worker/cli/commands.py demo), in the shapes its report and JSON always had.
DEMO_RISK = views.ViewFilter(
    states=frozenset({HealthState.FAIR, HealthState.POOR}), sort=views.SortKey.trend, limit=8
)
DEMO_DEALS = views.ViewFilter(
    states=frozenset({HealthState.FAIR, HealthState.POOR}), sort=views.SortKey.revenue, limit=5
)
RISK_FIELDS = ("record_type", "record_id", "health_score", "health_state", "health_trend")


def demo_at_risk(session: Session) -> list[dict[str, Any]]:
    """Every record graded Fair or Poor, declining first, then worst first."""
    listed = list_records(session, Scope(views.RECORD_TYPES, open_only=False), DEMO_RISK)
    return [
        {
            **{field: row[field] for field in RISK_FIELDS},
            "reasons": detail["reasons"] if detail else [],
            "name": row["name"],
        }
        for row, detail in listed.rows
    ]


def demo_deals_at_risk(session: Session) -> list[dict[str, Any]]:
    """Open deals graded Fair or Poor, biggest first, each with its weakest key contact."""
    listed = list_records(session, Scope(("opportunity",)), DEMO_DEALS)
    return [
        {
            "id": row["record_id"],
            "name": row["name"],
            "estimated_revenue": row["estimated_revenue"],
            "estimated_close_date": row["estimated_close_date"],
            "contact_id": row["weakest_contact_id"],
            "full_name": detail["weakest_contact_name"] if detail else None,
            "weakest_contact_role": row["weakest_contact_role"],
            "weakest_contact_score": row["weakest_contact_score"],
            **{field: row[field] for field in RISK_FIELDS[2:]},
            "reasons": detail["reasons"] if detail else [],
        }
        for row, detail in listed.rows
    ]


def record_url_template() -> str:
    """RAPPORT_RECORD_URL_TEMPLATE: where a chart's bubble links to; must hold {id}."""
    template = os.environ.get(RECORD_URL_SETTING, "").strip() or pipeline_chart.DEFAULT_RECORD_URL
    if pipeline_chart.RECORD_URL_PLACEHOLDER not in template:
        raise UserError(
            f"{RECORD_URL_SETTING}: {template!r} is not allowed; expected a URL holding "
            "{id}, e.g. https://crm.example.com/opportunity/{id}"
        )
    return template


def chart(
    cli: CliContext, owner: str | None, now: datetime
) -> tuple[pipeline_chart.ChartData, dict[str, Any]]:
    """The pipeline chart of one owner's (or everyone's) open opportunities."""
    template = record_url_template()
    with session_scope(_store(cli)) as session:
        user = _owner(session, owner)
        deals = insights_read.view_rows(
            session=session,
            record_type="opportunity",
            owner_id=None if user is None else user[0],
            open_only=True,
        )
        shown = [d["record_id"] for d in deals if pipeline_chart.is_shown(d, now)]
        details = insights_read.view_details(
            session=session, record_type="opportunity", record_ids=shown
        )
    data = pipeline_chart.chart_of(deals, details, now=now, record_url=template)
    return data, {
        "notice": EMPLOYMENT_NOTICE,
        "owner": None if user is None else {"id": user[0], "name": user[1]},
        **data.as_json(),
    }


def health_timeline(cli: CliContext, record: str, weeks: int, limit: int) -> dict[str, Any]:
    """`rapport health timeline`: weekly KPIs and the record's interactions, newest first."""
    if not 1 <= weeks <= timeline.TIMELINE_WEEKS:
        raise UserError(
            f"--weeks: {weeks} is not allowed; expected 1 to {timeline.TIMELINE_WEEKS} "
            "(the KPI timeline keeps 13 weeks)"
        )
    if not 1 <= limit <= MAX_INTERACTIONS:
        raise UserError(f"--limit: {limit} is not allowed; expected 1 to {MAX_INTERACTIONS}")
    store = _store(cli)
    record_type, record_id = commands._resolve(record, store)  # as `health show` resolves it
    with session_scope(store) as session:
        row = health_read.load_record(session=session, record_type=record_type, record_id=record_id)
        stored = insights_read.weekly_timeline(
            session=session, record_type=record_type, record_id=record_id
        )
        read = partial(
            insights_read.timeline_interactions,
            session=session,
            record_type=record_type,
            record_id=record_id,
        )
        shown = timeline.drill_down(
            stored, weeks=weeks, limit=limit, now=datetime.now(UTC), read=read
        )
    assert row is not None
    return {
        "notice": EMPLOYMENT_NOTICE,
        "record_type": record_type,
        "record_id": record_id,
        "name": row["display_name"],
        "computed_at": None if stored is None else stored["computed_at"],
        "last_activity_at": None if stored is None else stored["last_activity_at"],
        **shown,
    }
