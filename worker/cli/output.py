"""How command results look: the options every command shares (`--json`, `--now`), and
`emit`, which prints a command's plain data as JSON or hands it to one of the
terminal renderers below."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table

from worker.cli.option_set_labels import state_label, trend_label

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Score as of this ISO-8601 UTC time instead of the clock."),
]
AllowFarNow = Annotated[
    bool,
    typer.Option(
        "--allow-far-now",
        help="Accept a --now more than ten years before or one day after the clock.",
    ),
]


def emit(
    payload: Any,
    as_json: bool,
    render: Callable[[Any], object],
    *,
    default: Callable[[Any], Any] = str,
) -> None:
    """`payload` as indented JSON (values JSON lacks through `default`), or rendered."""
    if as_json:
        typer.echo(json.dumps(payload, indent=2, default=default))
    else:
        render(payload)


# Wide enough that no table or line of ours is ever folded to fit it.
PIPED_WIDTH = 100_000


class CommandConsole(Console):
    """A terminal gets lines and tables fitted to its width; a pipe or a file gets
    them whole. rich fits a piped stdout to 80 columns (or to a terminal it finds
    on stdin or stderr), which folds an address inside its table cell
    (`barry.tycholiz@enron.co` / `m`) and breaks every `grep` and `awk` over it."""

    @property
    def size(self) -> ConsoleDimensions:
        fitted = super().size
        if self.is_terminal:
            return fitted
        return ConsoleDimensions(PIPED_WIDTH, fitted.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


console = CommandConsole(highlight=False, soft_wrap=True)


def db_status(payload: dict[str, Any]) -> None:
    current = payload["current"] or "empty"
    verdict = "up to date" if payload["current"] == payload["head"] else "needs: rapport db upgrade"
    console.print(
        f"{payload['database']}: schema {current} (this Rapport: {payload['head']}), {verdict}"
    )


def settings_table(payload: dict[str, Any]) -> None:
    table = Table("setting", "value", "default", "allowed", title="Relationship analytics settings")
    for row in payload["settings"]:
        table.add_row(row["key"], _word(row["value"]), _word(row["default"]), row["allowed"])
    console.print(table)
    _grades(payload["grades"])


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str) and "\n" in value:  # a template: its first line stands for it
        return f"{value.splitlines()[0]} ... ({len(value.splitlines())} lines; --json shows all)"
    return str(value)


def _grades(grades: list[dict[str, Any]]) -> None:
    console.print(
        "Health grades: " + ", ".join(f"{g['grade']} {g['low']}-{g['high']}" for g in grades)
    )


def setting_changed(payload: dict[str, Any]) -> None:
    if payload["changed"]:
        console.print(f"{payload['key']}: {_word(payload['old'])} -> {_word(payload['new'])}")
    else:
        console.print(f"{payload['key']} is already {_word(payload['new'])}; nothing changed")
    if payload["key"].startswith("grading."):
        _grades(payload["grades"])


def _unchanged(payload: dict[str, Any]) -> str:
    """Only the activities whose inputs changed are derived again (storage.crm_digests)."""
    read, unchanged = payload["crm_activities"], payload["crm_activities_unchanged"]
    if not unchanged:
        return ""
    if unchanged == read:
        return " (all unchanged since the last run)"
    return f" ({unchanged} unchanged since the last run)"


def run_summary(payload: dict[str, Any]) -> None:
    """Failures first, then what Exchange and the CRM each brought (apart: the CRM
    counters never cover Exchange's), then scoring and write-back."""
    for line in _failure_lines(payload):
        console.print(line)
    for line in _exchange_lines(payload["exchange"]):
        console.print(line)
    interactions = payload["interactions"]
    console.print(
        f"CRM activities read: {payload['crm_activities']}{_unchanged(payload)}; "
        f"{_changes(interactions)}"
    )
    console.print(f"interactions stored: {interactions['total']}")
    written = payload["written"]
    states = ", ".join(f"{state} {count}" for state, count in sorted(payload["by_state"].items()))
    console.print(f"records scored: {payload['records_scored']} ({states}); {_scoring(payload)}")
    console.print(
        f"written: {written['records_updated']} records, {written['kpis_written']} KPI rows, "
        f"{written['snapshots_written']} snapshots; {written['unchanged']} unchanged"
    )
    seconds = payload["seconds"]
    console.print("time: " + ", ".join(f"{stage} {value:.2f}s" for stage, value in seconds.items()))


CRM_PROBLEMS_SHOWN = 5  # lines; the JSON output has the first 20, and every count


def _scoring(payload: dict[str, Any]) -> str:
    """What the tick scored (docs/deploy.md, "Ticks"): every record, and why; only the
    records whose interactions changed; or nothing, the stored health standing."""
    scoring = payload.get("scoring")
    if scoring == "regrade":
        return f"a full regrade ({payload.get('regrade_reason')})"
    if scoring == "changed":
        return "only the records whose interactions changed"
    return "nothing changed: the stored health stands"


def _failure_lines(payload: dict[str, Any]) -> list[str]:
    """What went wrong, before any figure: a failed Exchange sync (exit 5), CRM rows skipped."""
    lines = [f"FAILED: {payload['failure']}"] if payload.get("failure") else []
    problems = payload["crm_row_problems"]
    if problems["count"]:
        columns = ", ".join(f"{column} {n}" for column, n in problems["by_column"].items())
        lines.append(f"CRM values outside the contract: {problems['count']} ({columns}); first:")
    lines += [f"  {problem}" for problem in payload["skipped_crm_rows"][:CRM_PROBLEMS_SHOWN]]
    return lines


def _changes(counts: dict[str, Any]) -> str:
    return f"added {counts['added']}, changed {counts['updated']}, removed {counts['removed']}"


def _exchange_lines(exchange: dict[str, Any] | None) -> list[str]:
    """Exchange's part of a run: its mailboxes, hints on what to set, what it stored."""
    if exchange is None:
        return []
    if "mailboxes" not in exchange:  # no round: not configured, no consent, switched off
        if exchange["failure"]:
            return []  # said by the failure line already
        return [f"Exchange not read ({exchange['state']}: {exchange['reason']}); CRM data only"]
    lines = (
        []
        if exchange["state"] == "granted"
        else [f"Exchange consent {exchange['state']}: {exchange['reason']}; CRM data only"]
    )
    lines.append(f"Exchange mailboxes: {_mailbox_counts(exchange)}")
    if exchange.get("residency_hint"):
        lines.append(f"  {exchange['residency_hint']}")
    if exchange["foreign_links"]:
        lines.append(
            f"  {exchange['foreign_links']} folder(s) re-baselined: their stored links were for "
            "another host than RAPPORT_GRAPH_BASE_URL, so they were read again from the start"
        )
    lines.append(f"Exchange interactions: {_changes(exchange['interactions'])}")
    return lines


def _mailbox_counts(exchange: dict[str, Any]) -> str:
    by_status: dict[str, int] = exchange["mailboxes"]
    decisions: dict[str, int] = exchange["decisions"]
    synced = by_status.get("ok", 0)
    not_synced = {status: n for status, n in sorted(by_status.items()) if status != "ok"}
    excluded = {status: n for status, n in sorted(decisions.items()) if status != "eligible"}
    parts = [
        f"{sum(not_synced.values())} failed{_detail(not_synced)}",
        f"{synced} synced",
        f"{sum(excluded.values())} excluded{_detail(excluded)}",
    ]
    return ", ".join(parts)


def _detail(counts: dict[str, int]) -> str:
    return f" ({', '.join(f'{n} {status}' for status, n in counts.items())})" if counts else ""


def _grade(score: int | None, state: int | None, trend: int | None) -> str:
    shown = "-" if score is None else str(score)
    return f"{shown} {state_label(state)}, {trend_label(trend).lower()}"


def demo_report(payload: dict[str, Any]) -> None:
    run_summary(payload["summary"])
    console.print("\n[bold]Open deals with a key contact going quiet[/bold]")
    for row in payload["deals_at_risk"]:
        revenue = f"${row['estimated_revenue']:,.0f}" if row["estimated_revenue"] else "no value"
        console.print(f"  {row['name']} ({revenue}, closes {row['estimated_close_date']})")
        grade = _grade(row["health_score"], row["health_state"], row["health_trend"])
        weakest = row["full_name"] or "no key contact graded"
        role = f" ({row['weakest_contact_role']})" if row["weakest_contact_role"] else ""
        console.print(f"    deal: {grade}; weakest key contact {weakest}{role}")
        for reason in row["reasons"][:3]:
            console.print(f"      - {reason}")
    console.print("\n[bold]Relationships at risk[/bold] (declining first, then worst)")
    for row in payload["at_risk"]:
        grade = _grade(row["health_score"], row["health_state"], row["health_trend"])
        console.print(f"  {row['record_type']} {row['name']}: {grade}")
        for reason in row["reasons"][:3]:
            console.print(f"      - {reason}")
    scenario = payload["scenario"]
    console.print(
        f"\nDemo store: {payload['database']}. Look closer with:\n"
        f"  RAPPORT_DATABASE_URL=sqlite:///{payload['database']} "
        f"rapport health show contact:{scenario['primary_contact_id']}"
    )


def unreadable_lines(problems: list[str]) -> list[str]:
    """CRM values no type reads (docs/crm-contract.md, "Values Rapport refuses"), first."""
    if not problems:
        return []
    return ["CRM values outside the contract:", *(f"  {problem}" for problem in problems)]


def health_report(payload: dict[str, Any]) -> None:
    for line in unreadable_lines(payload["unreadable"]):
        console.print(line)
    console.print(
        f"[bold]{payload['record_type']} {payload['name']}[/bold] ({payload['record_id']})"
    )
    console.print(
        f"health: {payload['health_score'] if payload['health_score'] is not None else '-'} "
        f"{state_label(payload['health_state'])}, trend {trend_label(payload['health_trend'])}"
    )
    kpi = payload["kpi"]
    if kpi is None:
        console.print("not scored yet: run `rapport run --once`")
        return
    for factor in kpi["factors"]:
        console.print(f"  {factor['name']:<13} {factor['points']:5.1f} pts  {factor['detail']}")
    for reason in kpi["reasons"]:
        console.print(f"  - {reason}")
    table = Table("KPI", "our team", "the customer")
    table.add_row("emails", str(kpi["emails_sent"]), str(kpi["emails_received"]))
    table.add_row("meetings", str(kpi["meetings_sent"]), str(kpi["meetings_received"]))
    table.add_row("phone calls", str(kpi["phone_calls_made"]), str(kpi["phone_calls_received"]))
    table.add_row("replies", str(kpi["replies_by_us"]), str(kpi["replies_by_them"]))
    table.add_row(
        "response rate", _pct(kpi["response_rate_by_us"]), _pct(kpi["response_rate_by_them"])
    )
    table.add_row(
        "first response (h)",
        _num(kpi["avg_first_response_by_us_hours"]),
        _num(kpi["avg_first_response_by_them_hours"]),
    )
    table.add_row(
        "time spent (min)",
        _num(kpi["time_spent_by_team_minutes"]),
        _num(kpi["time_spent_by_customer_minutes"]),
    )
    console.print(table)
    console.print(
        f"last activity: {kpi['last_activity_kind'] or '-'} {kpi['last_activity_direction'] or ''} "
        f"{kpi['last_activity_at'] or ''}; next: {kpi['next_activity_kind'] or '-'} "
        f"{kpi['next_activity_at'] or ''}"
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
