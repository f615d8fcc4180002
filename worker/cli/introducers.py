"""`rapport introducers`: who knows a contact or lead, and colleagues opting out.

Mounted on the main app by `register(app)`. `show` prints only each
colleague's name, address and strength (never what was said, which Rapport
does not hold); everyone asking sees the same list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from worker.cli.context import cli_of
from worker.cli.output import JsonFlag, console, emit

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from worker.run.introducer_optout import OptOutChange

introducers_app = typer.Typer(
    help="Who knows whom: colleagues who can introduce you to a contact or lead.",
    no_args_is_help=True,
)
UserArgument = Annotated[str, typer.Argument(help="The colleague's email address.")]


def register(app: typer.Typer) -> None:
    """Add `introducers` to `app`; a second call changes nothing."""
    from worker.cli import introduction_draft

    if any(group.name == "introducers" for group in app.registered_groups):
        return
    introducers_app.command("draft")(introduction_draft.draft)
    introducers_app.command("account")(introduction_draft.account)
    app.add_typer(introducers_app, name="introducers")


@introducers_app.command("show")
def show(
    ctx: typer.Context,
    record: Annotated[
        str, typer.Argument(help="contact:ID, lead:ID or the person's email address.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Colleagues who know the person, strongest first."""
    cli = cli_of(ctx)
    payload = introducers_of(cli.current_store(), cli.settings.excluded_users, record)
    emit(payload, as_json, _introducers_table)


@introducers_app.command("opt-out")
def opt_out(ctx: typer.Context, user: UserArgument, as_json: JsonFlag = False) -> None:
    """Never list this colleague as an introducer (their entries go at once; audited)."""
    from worker.run.introducer_optout import change_opt_out

    change = change_opt_out(
        cli_of(ctx).current_store(), user, opted_out=True, now=datetime.now(UTC)
    )
    emit(_change_payload(change), as_json, _changed)


@introducers_app.command("opt-in")
def opt_in(ctx: typer.Context, user: UserArgument, as_json: JsonFlag = False) -> None:
    """List this colleague again from the next run on (audited)."""
    from worker.run.introducer_optout import change_opt_out

    change = change_opt_out(
        cli_of(ctx).current_store(), user, opted_out=False, now=datetime.now(UTC)
    )
    emit(_change_payload(change), as_json, _changed)


def introducers_of(store: Engine, excluded: tuple[str, ...], record: str) -> dict[str, Any]:
    """`excluded`: RAPPORT_EXCLUDED_USERS, never shown whatever the last run wrote."""
    from storage.engine import session_scope
    from storage.introducer_optout_read import current_introducers
    from worker.admin_settings import INTRODUCERS_SWITCH as SWITCH
    from worker.admin_settings import current_settings
    from worker.cli import commands

    record_type, record_id, name = commands.resolve_person(record, store)
    payload: dict[str, Any] = {
        "record_type": record_type,
        "record_id": record_id,
        "name": name,
        "enabled": bool(current_settings(store)[SWITCH]),
        "introducers": [],
    }
    if not payload["enabled"]:
        return payload
    now = datetime.now(UTC)
    with session_scope(store) as session:
        shown = current_introducers(
            session=session,
            record_type=record_type,
            record_id=record_id,
            configured=excluded,
            now=now,
        )
    payload["introducers"] = [
        {
            "rank": rank,
            "name": row["full_name"],
            "email": row["email"],
            "strength": row["strength"],
            "strength_label": row["strength_label"],
        }
        for rank, row in enumerate(shown, start=1)
    ]
    return payload


def _change_payload(change: OptOutChange) -> dict[str, Any]:
    return {
        "system_user_id": change.system_user_id,
        "name": change.name,
        "email": change.email,
        "opted_out": change.opted_out,
        "changed": change.changed,
        "introducer_rows_removed": change.introducer_rows_removed,
    }


def _introducers_table(payload: dict[str, Any]) -> None:
    from worker.admin_settings import INTRODUCERS_SWITCH as SWITCH

    who = f"{payload['name']} ({payload['record_type']}:{payload['record_id']})"
    if not payload["enabled"]:
        console.print(
            f"Who knows whom is switched off ({SWITCH}); no introducers are kept for {who}. "
            f"An admin can turn it on with: rapport settings set {SWITCH} on"
        )
        return
    if not payload["introducers"]:
        console.print(f"No colleague is known to have a relationship with {who} yet.")
        return
    table = Table(title=f"Who knows {who}")
    table.add_column("#", no_wrap=True)
    table.add_column("colleague", overflow="fold")
    table.add_column("email", overflow="fold")  # an address cut short is no use
    table.add_column("strength", no_wrap=True)
    for row in payload["introducers"]:
        strength = f"{_bar(row['strength'])} {row['strength_label']} ({row['strength']})"
        table.add_row(str(row["rank"]), row["name"], row["email"], strength)
    console.print(table)


def _bar(strength: int) -> str:
    filled = round(strength / 20)
    return "●" * filled + "○" * (5 - filled)


def _changed(payload: dict[str, Any]) -> None:
    who = f"{payload['name']} <{payload['email']}>"
    state = "opted out of" if payload["opted_out"] else "opted in to"
    if not payload["changed"]:
        console.print(f"{who} had already {state} who knows whom; nothing changed")
        return
    console.print(f"{who} {state} who knows whom")
    if payload["introducer_rows_removed"]:
        console.print(f"removed {payload['introducer_rows_removed']} introducer entries")
