"""The compliance commands of `rapport`: export, erase, retention purge, audit list.

Mounted on the main app by `register(app)`; each command parses, calls one
function of worker.cli.compliance_commands and prints a table or JSON.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from worker.cli.context import cli_of
from worker.cli.output import JsonFlag, console, emit, unreadable_lines
from worker.failures import UserError

retention_app = typer.Typer(help="Retention of interactions and history.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)

SubjectOption = Annotated[
    str,
    typer.Option(
        "--subject",
        help="An email address, or TYPE:ID with TYPE contact, lead, opportunity, account "
        "or system_user.",
    ),
]


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"


def register(app: typer.Typer) -> None:
    """Add the compliance commands to `app`; a second call changes nothing."""
    if any(info.name == "export" for info in app.registered_commands):
        return
    app.command("export")(export)
    app.command("erase")(erase)
    app.add_typer(retention_app, name="retention")
    app.add_typer(audit_app, name="audit")


def export(
    ctx: typer.Context,
    subject: SubjectOption,
    out: Annotated[Path, typer.Option("--out", help="Directory for the files (created 0700).")],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="One JSON file, or one CSV file per section.")
    ] = ExportFormat.json,
    as_json: JsonFlag = False,
) -> None:
    """Export everything Rapport holds about a data subject (files are mode 0600)."""
    from worker.cli import compliance_commands as run

    store = cli_of(ctx).current_store()
    emit(run.export(store, subject, fmt.value, out, datetime.now(UTC)), as_json, _exported)


def erase(
    ctx: typer.Context,
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject",
            help="An email address, or TYPE:ID with TYPE contact, lead, opportunity, account "
            "or system_user.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go, with counts; change nothing.")
    ] = False,
    release: Annotated[
        str | None,
        typer.Option(
            "--release",
            help="Take an erased subject (address or TYPE:ID) off the suppression list: "
            "they came back and consented. Audited.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Erase a data subject from Rapport's tables and keep them out (audited; idempotent)."""
    from worker.cli import compliance_commands as run

    if release is not None:
        if subject is not None or dry_run:
            raise UserError("--release: give it alone, without --subject or --dry-run")
        emit(
            run.release(cli_of(ctx).current_store(), release, datetime.now(UTC)), as_json, _released
        )
        return
    if subject is None:
        raise UserError("--subject: required; expected an email address or TYPE:ID")
    cli = cli_of(ctx)
    erased = run.erase(cli.current_store(), cli.settings, subject, dry_run, datetime.now(UTC))
    emit(erased, as_json, _erased)


@retention_app.command("purge")
def retention_purge(
    ctx: typer.Context,
    interaction_days: Annotated[
        int, typer.Option("--interaction-days", help="Delete interactions older than this.")
    ] = 730,
    snapshot_days: Annotated[
        int, typer.Option("--snapshot-days", help="Thin daily history older than this to weekly.")
    ] = 90,
    now: Annotated[
        str | None, typer.Option("--now", help="Purge as of this ISO-8601 UTC time.")
    ] = None,
    allow_far_now: Annotated[
        bool,
        typer.Option(
            "--allow-far-now",
            help="Accept a --now more than ten years before or one day after the clock.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete interactions past the retention window and thin old daily history."""
    from worker.cli import commands
    from worker.cli import compliance_commands as run

    # A far-future --now would purge every interaction: refused unless meant.
    moment = commands.given_now(now or None, allow_far=allow_far_now)
    store = cli_of(ctx).current_store()
    emit(run.retention_purge(store, moment, interaction_days, snapshot_days), as_json, _purged)


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option("--since", help="Only events at or after this ISO-8601 time.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the audit log, oldest first."""
    from worker.cli import commands
    from worker.cli import compliance_commands as run

    moment = commands.parse_time("--since", since) if since else None
    emit(run.audit_list(cli_of(ctx).current_store(), moment), as_json, _audit_table)


def _counts_table(title: str, counts: dict[str, int]) -> Table:
    table = Table("what", "rows", title=title)
    for name, count in counts.items():
        table.add_row(name, str(count))
    return table


def _exported(payload: dict[str, Any]) -> None:
    for line in unreadable_lines(payload["unreadable"]):
        console.print(line)
    console.print(_counts_table(f"Export of {payload['subject']}", payload["counts"]))
    for path in payload["files"]:
        console.print(f"wrote {path}")
    if not payload["holds_data"]:
        console.print("Rapport holds no data about this subject.")
    console.print(f"[bold]Notice:[/bold] {payload['notice']}")


def _erased(payload: dict[str, Any]) -> None:
    records = ", ".join(f"{r['record_type']}:{r['record_id']}" for r in payload["records"])
    verb = "would remove" if payload["dry_run"] else "removed"
    console.print(_counts_table(f"{payload['subject']} ({records}): {verb}", payload["counts"]))
    if payload["dry_run"]:
        console.print("dry run: nothing was changed")
    else:
        console.print(f"the audit log now names this subject {payload['subject_token']}")


def _released(payload: dict[str, Any]) -> None:
    if payload["released"]:
        console.print(f"released: the next run scores {payload['subject']} again")
    else:
        console.print(f"{payload['subject']} was not on the suppression list; nothing changed")


def _purged(payload: dict[str, Any]) -> None:
    title = (
        f"Retention: interactions before {payload['interaction_cutoff']}, "
        f"daily history before {payload['snapshot_cutoff']}"
    )
    console.print(_counts_table(title, payload["counts"]))


def _audit_table(payload: dict[str, Any]) -> None:
    table = Table(title="Audit log")
    for name in ("at", "actor", "command", "action"):
        table.add_column(name, no_wrap=True)
    table.add_column("subject", overflow="fold")
    table.add_column("details", overflow="fold")
    for event in payload["events"]:
        table.add_row(
            event["at"][:19],
            event["actor"],
            event["command"],
            event["action"],
            _short_tokens(event["subject"] or ""),
            _short_tokens(" ".join(_flat(event["details"]))),
        )
    console.print(table)


def _flat(value: Any, prefix: str = "") -> list[str]:
    """`key=value` words, nested keys joined by dots: readable in a narrow column."""
    if isinstance(value, dict):
        # Counts are most of most rows: their words go without the "counts." prefix.
        return [
            word
            for k, v in value.items()
            for word in _flat(v, prefix if k == "counts" else f"{prefix}{k}.")
        ]
    shown = value if isinstance(value, str) else json.dumps(value)
    return [f"{prefix.rstrip('.')}={shown}" if prefix else shown]


def _short_tokens(text: str) -> str:
    # A full token is 76 characters; 12 hex digits identify it on a terminal (--json has it all).
    return _token().sub(lambda match: match.group(1) + "…", text)


@cache
def _token() -> re.Pattern[str]:
    """A subject token as stored (compliance/hashing.py), compiled at its first use."""
    from compliance.hashing import TOKEN_PREFIX

    return re.compile(rf"({re.escape(TOKEN_PREFIX)}[0-9a-f]{{12}})[0-9a-f]{{52}}")
