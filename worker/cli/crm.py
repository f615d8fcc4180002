"""`rapport crm import FILE`: load a CRM's records and activities from a file.

Mounted on the main app by `register(app)`. The format (JSON, or a CSV
bundle: a directory or .zip of TABLE.csv files) is documented in
docs/crm-contract.md, "Import file format"; the import itself is
crm.file_import. Exit 0 when every row was taken, 2 when any row was
rejected (the others are imported; the report names each refusal) or the
file cannot be read at all (one line, nothing written).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from worker.cli.context import cli_of
from worker.cli.output import JsonFlag, console, emit
from worker.failures import EXIT_BAD_INPUT, UserError

if TYPE_CHECKING:
    from crm.file_report import ImportProblem, ImportReport

crm_app = typer.Typer(help="CRM data from outside: import a file.", no_args_is_help=True)
PROBLEMS_SHOWN = 50  # in the text report; --json lists up to crm.file_import.PROBLEMS_KEPT


def register(app: typer.Typer) -> None:
    """Add `crm` to `app`; a second call changes nothing."""
    if any(group.name == "crm" for group in app.registered_groups):
        return
    app.add_typer(crm_app, name="crm")


@crm_app.command("import")
def import_command(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(help="A JSON file, or a directory or .zip of TABLE.csv files."),
    ],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Validate and count what would change; write nothing."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import users, accounts, contacts, leads, opportunities, stakeholders and activities.

    Rows are matched by id: new ones are inserted, changed ones updated, the
    rest left alone. Bad rows are reported by file, line and column and
    skipped (exit 2); the others are imported.
    """
    from crm.file_import import import_file
    from crm.file_reading import ImportFileError

    store = cli_of(ctx).current_store()
    try:
        report = import_file(file, store, now=datetime.now(UTC), dry_run=dry_run)
    except ImportFileError as unreadable:
        raise UserError(f"{unreadable}; nothing was imported") from None
    payload = report_payload(report)

    def show(_: object) -> None:
        _render(payload, report.problems)

    emit(payload, as_json, show)
    if report.rejected:
        raise typer.Exit(EXIT_BAD_INPUT)


def report_payload(report: ImportReport) -> dict[str, Any]:
    return {
        "file": report.file,
        "dry_run": report.dry_run,
        "tables": {table: asdict(counts) for table, counts in report.tables.items()},
        "rejected_rows": report.rejected,
        "problems": [problem.as_dict() for problem in report.problems],
        "problem_count": report.problem_count,
        "party_addresses_not_kept": report.addresses_not_kept,
    }


def _render(payload: dict[str, Any], problems: list[ImportProblem]) -> None:
    would = "would be " if payload["dry_run"] else ""
    dry = " (dry run: nothing written)" if payload["dry_run"] else ""
    table = Table(title=f"{payload['file']}{dry}")
    for column in ("table", f"{would}inserted", f"{would}updated", "unchanged", "rejected"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, counts in payload["tables"].items():
        if any(counts.values()):
            figures = (counts[key] for key in ("inserted", "updated", "unchanged", "rejected"))
            table.add_row(name, *map(str, figures))
    console.print(table)
    _render_notes(payload, problems)


def _render_notes(payload: dict[str, Any], problems: list[ImportProblem]) -> None:
    parties = payload["tables"]["crm_activity_party"]
    if parties["removed"]:
        console.print(f"activity parties replaced: {parties['removed']} stored parties removed")
    if payload["party_addresses_not_kept"]:
        console.print(
            f"party addresses not kept (they match no user, contact or lead): "
            f"{payload['party_addresses_not_kept']}"
        )
    for problem in problems[:PROBLEMS_SHOWN]:
        console.print(str(problem))
    hidden = payload["problem_count"] - min(len(problems), PROBLEMS_SHOWN)
    if hidden:
        console.print(f"... and {hidden} more problems (rapport crm import --json lists them)")
    if payload["rejected_rows"]:
        console.print(
            f"{payload['rejected_rows']} rows rejected; the other rows were "
            f"{'checked' if payload['dry_run'] else 'imported'} (exit 2)"
        )
