"""The service commands of `rapport`: `worker` (the long-running process) and `status`.

Mounted on the main app by `register(app)`; the service modules are imported
when a command runs, so other commands stay fast.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table

from worker.cli.context import cli_of
from worker.cli.output import JsonFlag, console, emit


def register(app: typer.Typer) -> None:
    """Add `worker` and `status` to `app`; a second call changes nothing."""
    if any(info.name == "worker" for info in app.registered_commands):
        return
    app.command("worker")(worker)
    app.command("status")(status)


def worker(ctx: typer.Context) -> None:
    """Run the service: sync every RAPPORT_SYNC_INTERVAL_SECONDS, score after each round and
    every RAPPORT_SCORING_INTERVAL_SECONDS, purge retention daily; serve /metrics, /healthz
    and /readyz on RAPPORT_METRICS_PORT. Stops cleanly on SIGTERM or SIGINT (exit 0).
    Several replicas may share one PostgreSQL store; SQLite allows one worker."""
    from worker.service.main import run_worker

    run_worker(cli_of(ctx).settings)


def status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Tenants and consent, mailboxes by status, the last sync round and the lag."""
    from storage.service_status import load_store_state, status_payload

    store = cli_of(ctx).current_store()
    payload = status_payload(load_store_state(store, datetime.now(UTC)))
    emit(payload, as_json, render_status)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render_status(payload: dict[str, Any]) -> None:
    from storage.service_status import last_sync_line

    tenants = Table("tenant", "consent", "missing permissions", "checked", title="Tenants")
    for tenant in payload["tenants"]:
        tenants.add_row(
            tenant["id"],
            tenant["consent"],
            ", ".join(tenant["missing_permissions"]) or "-",
            (tenant["checked_at"] or "-")[:19],
        )
    console.print(
        tenants
        if payload["tenants"]
        else "No tenant checked yet (Exchange not configured, or no round ran)."
    )
    mailboxes = payload["mailboxes"]
    table = Table("status", "mailboxes", title=f"Mailboxes ({mailboxes['total']})")
    for name, count in sorted(mailboxes["by_status"].items()):
        table.add_row(name, str(count))
    console.print(table)
    console.print(last_sync_line(payload))
    console.print(
        f"Sync lag: worst {_age(mailboxes['max_lag_seconds'])}; "
        f"never synced: {mailboxes['never_synced']}"
    )
    for job, times in payload["jobs"].items():
        console.print(f"Last {job}: {(times['completed_at'] or 'never')[:19]}")
    console.print(
        f"Replicas: {len(payload['replicas'])} live ({', '.join(payload['replicas']) or '-'}); "
        f"mailboxes leased now: {payload['leased_mailboxes']}"
    )
