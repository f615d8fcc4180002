"""`rapport demo`: a demo CRM in a fresh SQLite store, scored, with the relationships at risk.

With --dataverse the same book goes through the loopback Dataverse connector
(worker.demo.dataverse).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from worker.cli import output
from worker.cli.output import JsonFlag, NowOption, console, emit
from worker.failures import StoreError, UserError


def register(app: typer.Typer) -> None:
    """Add `demo` to `app`."""
    app.command("demo")(demo)


def demo(
    database: Annotated[
        Path, typer.Option("--database", help="SQLite file for the demo (replaced if present).")
    ] = Path("rapport-demo.db"),
    now: NowOption = None,
    as_json: JsonFlag = False,
    dataverse: Annotated[
        bool, typer.Option("--dataverse", help="Pull from a loopback Dataverse and push back.")
    ] = False,
    keep_serving: Annotated[
        bool, typer.Option("--keep-serving", help="--dataverse: keep it up until Ctrl-C.")
    ] = False,
) -> None:
    """Build a demo CRM in a fresh SQLite store, score it, show the relationships at risk."""
    from worker.cli import commands

    if dataverse:  # docs/dataverse.md: provision, pull, score, push, read the records back
        from worker.demo.dataverse import demo_dataverse

        fresh_demo_file(database)  # the same refusal as the demo
        # None: when the generated history ends.
        moment = None if now is None else commands.given_now(now)
        payload = demo_dataverse(
            database, moment, keep_serving=_serving_note if keep_serving else None
        )
        return emit(payload, as_json, dataverse_report)
    emit(build_demo(database, commands.given_now(now)), as_json, output.demo_report)


def _serving_note(payload: dict[str, Any], token: str) -> None:
    """What `rapport demo --dataverse --keep-serving` shows while the Dataverse stays up."""
    console.print(f"\nLoopback Dataverse at {payload['dataverse_url']} (Ctrl-C to stop). Look:")
    console.print(f"  TOKEN={token}", markup=False)
    console.print(f"  {payload['look']}", markup=False)


def fresh_demo_file(database: Path) -> None:
    """Remove a previous demo store at `database`, refusing a path that cannot hold one."""
    if database.is_dir():
        raise UserError(f"--database: {database} is a directory; expected a SQLite file to create")
    if not database.parent.is_dir():
        raise UserError(f"--database: the directory {database.parent} does not exist")
    try:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    except OSError as problem:
        raise UserError(
            f"--database: cannot replace {database}: {problem.strerror or problem}"
        ) from None


def build_demo(database: Path, now: datetime) -> dict[str, Any]:
    """Seed the demo CRM into a fresh SQLite store at `database`, score it, report the risks."""
    from sqlalchemy import exc as sa_exc

    from storage import migrate
    from storage.engine import create_store_engine, database_error_line, session_scope
    from worker.cli import commands, insights_commands
    from worker.demo.crm import seed_demo_crm
    from worker.log import configure_logging
    from worker.run.tick import run_once as run_pipeline

    configure_logging("WARNING", "text")
    fresh_demo_file(database)
    store = create_store_engine(f"sqlite:///{database}")
    try:
        migrate.upgrade(store)
        facts = seed_demo_crm(store, now=now)
        summary = run_pipeline(store, now=now)
        with session_scope(store) as session:
            risky = insights_commands.demo_at_risk(session)  # what `health list` shows
            deals = insights_commands.demo_deals_at_risk(session)
    except sa_exc.DBAPIError as error:
        # Named here: the CLI's fallback would name RAPPORT_DATABASE_URL, not the demo store.
        raise StoreError(
            f"--database: cannot use the demo store {database}: {database_error_line(error)}"
        ) from None
    finally:
        store.dispose()
    return {
        "database": str(database),
        "summary": commands.summary_payload(summary),
        "at_risk": risky,
        "deals_at_risk": deals,
        "scenario": asdict(facts),
    }


def dataverse_report(payload: dict[str, Any]) -> None:
    """What `rapport demo --dataverse` did, and the health the Dataverse records now hold."""
    pushed = payload["pushed"]
    console.print(
        f"Loopback Dataverse {payload['dataverse_url']}: {payload['columns_created']} columns "
        f"provisioned; pulled {sum(payload['pulled'].values())} rows; "
        f"{payload['records_scored']} records scored; {pushed['pushed']} records pushed in "
        f"{pushed['batches']} UpdateMultiple requests ({payload['requests']['requests']} "
        "requests in all)",
        markup=False,
    )
    console.print("\nHealth as the Dataverse records now hold it:")
    for row in payload["records"]:
        reason = f" - {row['health_reason']}" if row["health_reason"] else ""
        console.print(
            f"  {row['table']:13} {row['name']}: score {row['health_score']}, state "
            f"{row['health_state']}, trend {row['health_trend']}{reason}",
            markup=False,
        )
    console.print(
        "\nLook at them (rapport demo --dataverse --keep-serving keeps the loopback up and "
        "prints a token):",
        markup=False,
    )
    console.print(f"  {payload['look']}", markup=False)
