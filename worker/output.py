"""How command results look on a terminal (JSON output bypasses this module)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from worker.labels import state_label, trend_label

console = Console(highlight=False, soft_wrap=True)


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
    interactions = payload["interactions"]
    written = payload["written"]
    seconds = payload["seconds"]
    console.print(
        f"CRM activities read: {payload['crm_activities']}{_unchanged(payload)}; "
        f"interactions: {interactions['total']} "
        f"(+{interactions['added']} ~{interactions['updated']} -{interactions['removed']})"
    )
    for problem in payload["skipped_crm_rows"]:
        console.print(f"  skipped: {problem}")
    states = ", ".join(f"{state} {count}" for state, count in sorted(payload["by_state"].items()))
    console.print(f"records scored: {payload['records_scored']} ({states})")
    console.print(
        f"written: {written['records_updated']} records, {written['kpis_written']} KPI rows, "
        f"{written['snapshots_written']} snapshots; {written['unchanged']} unchanged"
    )
    console.print("time: " + ", ".join(f"{stage} {value:.2f}s" for stage, value in seconds.items()))


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
        console.print(f"    {row['full_name']}: {grade}")
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


def health_report(payload: dict[str, Any]) -> None:
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
