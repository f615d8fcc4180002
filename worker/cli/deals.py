"""`rapport deals similar OPP`: the won deals most like an open one, and how it compares.

Mounted on the main app by `register(app)`. Reads the store (storage.
similar_deals_read), runs the pure matching and comparison (insights.
similar_deals), and renders text or `--json` (schema in docs/insights.md,
"Similar won deals"). Every output carries the employment notice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from insights.notice import EMPLOYMENT_NOTICE
from worker.cli.context import cli_of
from worker.cli.output import JsonFlag, console, emit
from worker.failures import UserError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from insights import similar_deals as similar

deals_app = typer.Typer(help="Opportunities compared with the deals we won.", no_args_is_help=True)
PART_COLUMNS = ("revenue", "account_size", "stakeholders", "roles", "cycle", "team")
SHOWN_FIELDS = ("revenue", "account_contacts", "stakeholders", "roles", "team")


def register(app: typer.Typer) -> None:
    """Add `deals` to `app`; a second call changes nothing."""
    if any(group.name == "deals" for group in app.registered_groups):
        return
    app.add_typer(deals_app, name="deals")


def _features(deal: similar.Deal, today: date) -> dict[str, Any]:
    return {
        "revenue": deal.revenue,
        "account_contacts": deal.account_contacts,
        "stakeholders": deal.stakeholders,
        "roles": deal.roles,
        "team": deal.team,
        "age_days": deal.age_on(today),
    }


def similar_payload(store: Engine, opportunity: str, today: date) -> dict[str, Any]:
    from insights import similar_deals as similar
    from storage import similar_deals_read
    from storage.engine import session_scope

    opportunity_id = opportunity.strip().removeprefix("opportunity:")
    with session_scope(store) as session:
        found = similar_deals_read.deal_features(session=session, opportunity_id=opportunity_id)
        if found is None:
            raise UserError(f"OPP: no opportunity with id {opportunity_id!r}")
        if found["status"] != "open":
            raise UserError(f"OPP: {opportunity_id!r} is {found['status']}; expected an open one")
        won = [
            similar.Deal.from_row(row)
            for row in similar_deals_read.won_deal_features(session=session)
        ]
    deal = similar.Deal.from_row(found)
    result = similar.find_similar(deal, won, today)

    def extra(match: similar.Match) -> dict[str, Any]:
        features = _features(match.deal, today)
        return {
            "parts": {k: round(v, 3) for k, v in match.parts.items()},
            **{k: v for k, v in features.items() if k in SHOWN_FIELDS},
        }

    payload = similar.shown(deal, result, today, extra)
    return {
        "notice": EMPLOYMENT_NOTICE,
        "opportunity": {"id": deal.id, "name": deal.name, **_features(deal, today)},
        "max_distance": similar.MAX_DISTANCE,
        **payload,
    }


@deals_app.command("similar")
def deals_similar(
    ctx: typer.Context,
    opportunity: Annotated[str, typer.Argument(metavar="OPP", help="opportunity:ID or the id.")],
    now: Annotated[
        str | None, typer.Option("--now", help="Compare as of this ISO-8601 UTC time.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The won deals most like an open one, and the KPIs where it lags them."""
    from worker.cli import commands

    moment = datetime.now(UTC) if now is None else commands.parse_now("--now", now)
    payload = similar_payload(cli_of(ctx).current_store(), opportunity, moment.date())
    emit(payload, as_json, _report)


def _report(payload: dict[str, Any]) -> None:
    from insights import similar_deals as similar

    console.print(EMPLOYMENT_NOTICE, style="dim")
    deal = payload["opportunity"]
    console.print(f"[bold]{deal['name']}[/bold] ({deal['id']}), open {deal['age_days']} days")
    if payload["fallback"]:
        console.print(
            f"Only {payload['similar_found']} won deals are similar (fewer than "
            f"{payload['minimum_similar']}): compared with the top {payload['compared_with']} "
            "won deals by revenue instead."
        )
    table = Table(
        "won deal",
        "distance",
        "revenue",
        "account",
        "stakeholders",
        "roles",
        "cycle",
        "team",
        title="Similar won deals (distance parts, 0 = alike)",
    )
    for row in payload["deals"]:
        parts = row["parts"]
        table.add_row(
            row["name"], f"{row['distance']:.2f}", *(f"{parts[k]:.2f}" for k in PART_COLUMNS)
        )
    console.print(table if payload["deals"] else "No won deal has been scored yet.")
    comparison = payload["comparison"]
    for kpi in comparison["kpis"]:
        if kpi["kpi"] in comparison["lagging_most"] and kpi["yours"] is not None:
            console.print("Lagging: " + similar.sentence(kpi, comparison["window_days"][1]))
    if payload["deals"] and not comparison["lagging_most"]:
        console.print(f"Compared with {comparison['deals_compared']} won deals: no KPI lags.")
