"""The seller-insights commands: `health list`, `health timeline`, `pipeline chart`.

Mounted on the main app by `register(app)` (the `health` group's two commands
join `health show`). Every output carries the employment notice: the first
line of text and of CSV (a `#` comment line), a `notice` field in JSON, the
chart's caption (docs/insights.md).
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from insights.notice import EMPLOYMENT_NOTICE
from insights.views import SortKey
from worker.cli.context import cli_of
from worker.cli.output import JsonFlag, console, emit
from worker.failures import UserError

pipeline_app = typer.Typer(
    help="The relationship pipeline of open opportunities.", no_args_is_help=True
)
OwnerOption = Annotated[
    str | None, typer.Option("--owner", help="Only this system user's records (id or address).")
]


class RecordKind(StrEnum):
    contact = "contact"
    lead = "lead"
    opportunity = "opportunity"
    account = "account"


def register(app: typer.Typer) -> None:
    """Add `health list`, `health timeline` and `pipeline` to `app`; a second call
    changes nothing. The `health` group must already be on `app`."""
    health = next(group.typer_instance for group in app.registered_groups if group.name == "health")
    if health is None or any(c.name == "list" for c in health.registered_commands):
        return
    health.command("list")(health_list)
    health.command("timeline")(health_timeline)
    app.add_typer(pipeline_app, name="pipeline")


def _iso(value: Any) -> str:
    """Times and dates in JSON as ISO 8601 ("2026-11-30T12:00:00+00:00")."""
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def health_list(
    ctx: typer.Context,
    record_type: Annotated[
        RecordKind | None, typer.Option("--type", help="Only this record type (default: all).")
    ] = None,
    owner: OwnerOption = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            help="Only these health states, comma-separated: good, fair, "
            "poor, not-enough-info, no-closed-activities, computation-in-progress, "
            "something-went-wrong, record-older-than-2-years.",
        ),
    ] = None,
    trend: Annotated[
        str | None,
        typer.Option(
            "--trend",
            help="Only these trends, comma-separated: improving, steady, "
            "declining, not-enough-info, something-went-wrong, not-applicable.",
        ),
    ] = None,
    open_only: Annotated[
        bool | None,
        typer.Option(
            "--open/--include-closed",
            help="Leads and opportunities: open ones only (the default) or closed too.",
        ),
    ] = None,
    at_risk: Annotated[
        bool, typer.Option("--at-risk", help="Only records at risk: Poor, or Fair and declining.")
    ] = False,
    sort: Annotated[SortKey, typer.Option("--sort", help="Order of the rows.")] = SortKey.health,
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows; 0: all.")] = 50,
    as_json: JsonFlag = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (first line: the notice).")] = (
        False
    ),
) -> None:
    """Records by relationship: score, grade, trend, key KPIs and the first reason."""
    from insights import views
    from worker.cli import insights_commands as run

    if as_json and as_csv:
        raise UserError("--csv: give either --json or --csv, not both")
    payload = run.health_list(
        cli_of(ctx),
        record_type=None if record_type is None else record_type.value,
        owner=owner,
        states=state,
        trends=trend,
        open_only=open_only,
        at_risk=at_risk,
        sort=sort,
        limit=limit,
    )
    if as_csv:  # never with --json (refused above)
        sys.stdout.write(views.rows_csv(payload["rows"]))
    else:
        emit(payload, as_json, _list_table, default=_iso)


def _when(value: datetime | None, kind: str | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d} {kind or ''}".strip()


LIST_COLUMNS = (
    "record",
    "owner",
    "score",
    "grade",
    "trend",
    "last activity",
    "next activity",
    "emails 30d (us/them)",
    "their response rate",
    "first reason",
)


def _list_table(payload: dict[str, Any]) -> None:
    console.print(EMPLOYMENT_NOTICE, style="dim")
    table = Table(*LIST_COLUMNS)
    for row in payload["rows"]:
        rate = row["response_rate_by_them"]
        table.add_row(
            f"{row['record_type']} {row['name']}",
            row["owner_name"] or "-",
            "-" if row["health_score"] is None else str(row["health_score"]),
            row["grade"] or "not scored",
            row["trend"] or "-",
            _when(row["last_activity_at"], row["last_activity_kind"]),
            _when(row["next_activity_at"], row["next_activity_kind"]),
            "-"
            if row["emails_sent_30d"] is None
            else f"{row['emails_sent_30d']}/{row['emails_received_30d']}",
            "-" if rate is None else f"{rate:.0%}",
            row["first_reason"] or "",
        )
    console.print(table)
    console.print(f"{len(payload['rows'])} of {payload['matched']} matching records shown")


@pipeline_app.command("chart")
def pipeline_chart(
    ctx: typer.Context,
    owner: OwnerOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the chart here: a .svg or .png file.")
    ] = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Chart as of this ISO-8601 UTC time.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Open opportunities as bubbles: close date, health score, revenue, colour by grade."""
    from insights import pipeline_chart_render as render
    from worker.cli import commands
    from worker.cli import insights_commands as run

    if out is None and not as_json:
        raise UserError("--out: required unless --json; expected a .svg or .png file")
    if out is not None:
        _check_out(out, render.chart_format(out), render.FORMATS)
    moment = datetime.now(UTC) if now is None else commands.parse_now("--now", now)
    data, payload = run.chart(cli_of(ctx), owner, moment)
    if out is not None:
        who = payload["owner"]["name"] if payload["owner"] else "all owners"
        render.render(data, out, f"Relationship pipeline: {who}, as of {data.as_of.isoformat()}")
        payload["out"] = str(out)

    def show(_: object) -> None:
        hidden = payload["not_shown"]
        console.print(EMPLOYMENT_NOTICE, style="dim")
        console.print(
            f"{len(payload['bubbles'])} open opportunities drawn to {out}; not shown: "
            f"{hidden['no_close_date']} without a close date, "
            f"{hidden['close_date_past']} with a close date in the past"
        )

    emit(payload, as_json, show, default=_iso)


def _check_out(out: Path, fmt: str, formats: tuple[str, ...]) -> None:
    if fmt not in formats:
        raise UserError(f"--out: {out} is not allowed; expected a file name ending in .svg or .png")
    if not out.parent.is_dir():
        raise UserError(f"--out: the directory {out.parent} does not exist")
    if out.is_dir():
        raise UserError(f"--out: {out} is a directory; expected a file")


def health_timeline(
    ctx: typer.Context,
    record: Annotated[
        str,
        typer.Argument(help="TYPE:ID (contact, lead, opportunity, account) or an email address."),
    ],
    weeks: Annotated[int, typer.Option("--weeks", help="Weeks of KPIs to show (1-13).")] = 13,
    limit: Annotated[
        int, typer.Option("--limit", help="At most this many interactions (1-1000), newest first.")
    ] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Weekly KPIs and the record's interactions (metadata only), newest first."""
    from worker.cli import insights_commands as run

    payload = run.health_timeline(cli_of(ctx), record, weeks, limit)
    emit(payload, as_json, _timeline_report, default=_iso)


def _names(people: list[dict[str, Any]]) -> str:
    return ", ".join(p["name"] or f"{p['record_type']} {p['record_id']}" for p in people) or "-"


def _timeline_report(payload: dict[str, Any]) -> None:
    console.print(EMPLOYMENT_NOTICE, style="dim")
    console.print(
        f"[bold]{payload['record_type']} {payload['name']}[/bold] ({payload['record_id']})"
    )
    weeks = Table("week of", "emails sent", "emails received", "meetings", "phone calls")
    for week in payload["weeks"]:
        weeks.add_row(
            week["week_start"][:10],
            *(str(week[f]) for f in ("emails_sent", "emails_received", "meetings", "phone_calls")),
        )
    console.print(weeks if payload["weeks"] else "no KPI timeline yet: run `rapport run --once`")
    shown = payload["interactions"]
    bounded = " (the limit)" if len(shown) == payload["interactions_limit"] else ""
    console.print(
        f"{len(shown)} interactions since {payload['since']:%Y-%m-%d}, newest first{bounded}:"
    )
    for item in shown:
        console.print(
            f"  {item['occurred_at']:%Y-%m-%d %H:%M} {item['kind']} {item['direction']}"
            f"{' (planned)' if item['planned'] else ''}: us {_names(item['our_side'])}; "
            f"them {_names(item['their_side'])}"
        )
