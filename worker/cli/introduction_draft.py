"""`rapport introducers draft` and `rapport introducers account`: asking for an introduction.

`draft` fills the admin's template (`introduction.template`) for the strongest
introducer of a contact or lead, or the colleague named, and prints it, or
writes it as text or as an .eml file any mail client opens (so Rapport needs
no permission to send mail). `account` shows who knows a company best across
its contacts, and which of its people talk to us most. Every output carries
the employment notice (docs/insights.md, "Introductions").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from insights.notice import EMPLOYMENT_NOTICE
from worker.cli.context import cli_of
from worker.cli.output import JsonFlag, console, emit
from worker.failures import UserError

if TYPE_CHECKING:
    from sqlmodel import Session

    from insights import introductions


class DraftFormat(StrEnum):
    text = "text"
    eml = "eml"


def _require_switch(settings: Mapping[str, Any]) -> None:
    from worker.admin_settings import INTRODUCERS_SWITCH as SWITCH

    if not settings[SWITCH]:
        raise UserError(
            f"who knows whom is switched off ({SWITCH}); an admin can turn it on with: "
            f"rapport settings set {SWITCH} on"
        )


def _requester(session: Session, by: str) -> tuple[str, introductions.Colleague]:
    """(system user id, name and address) of the seller asking."""
    from insights import introductions
    from storage import insights_read, introductions_read

    found = insights_read.find_user(session=session, user=by.strip())
    if found is None:
        raise UserError(f"--by: no system user has the id or address {by!r}")
    email = introductions_read.user_email(session=session, system_user_id=found[0])
    return found[0], introductions.Colleague(found[1], email)


def _company(session: Session, record_type: str, record_id: str) -> str | None:
    from storage import health_read, introductions_read

    row = health_read.load_record(session=session, record_type=record_type, record_id=record_id)
    if row is None:
        return None
    return introductions_read.person_company(session=session, record_type=record_type, row=row)


def draft(
    ctx: typer.Context,
    record: Annotated[
        str, typer.Argument(help="contact:ID, lead:ID or the person's email address.")
    ],
    by: Annotated[str, typer.Option("--by", help="You, the seller asking (id or address).")],
    to_colleague: Annotated[
        str | None,
        typer.Option("--to-colleague", help="Ask this introducer (id or address) instead."),
    ] = None,
    fmt: Annotated[DraftFormat, typer.Option("--format", help="text, or eml (an email file).")] = (
        DraftFormat.text
    ),
    out: Annotated[Path | None, typer.Option("--out", help="Write the draft to this file.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Draft an introduction request to the colleague who knows the person best."""
    from insights import introductions
    from storage.engine import session_scope
    from storage.introducer_optout_read import current_introducers
    from worker.admin_settings import TEMPLATE_KEY, current_settings
    from worker.cli import commands

    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise UserError(f"--out: {out} is not allowed; expected a file in an existing directory")
    cli = cli_of(ctx)
    store, excluded = cli.current_store(), cli.settings.excluded_users
    record_type, record_id, name = commands.resolve_person(record, store)
    settings = current_settings(store)
    _require_switch(settings)
    now = datetime.now(UTC)
    template = str(settings[TEMPLATE_KEY])
    with session_scope(store) as session:
        requester_id, requester = _requester(session, by)
        rows = current_introducers(
            session=session,
            record_type=record_type,
            record_id=record_id,
            configured=excluded,
            now=now,
        )
        company = _company(session, record_type, record_id)
    chosen = introductions.choose_introducer(rows, requester_id=requester_id, named=to_colleague)
    if chosen is None:
        raise _nobody(name, rows, to_colleague)
    made = introductions.draft_introduction(
        template,
        requester=requester,
        introducer=chosen,
        person_name=name,
        company=company,
        today=now.date(),
    )
    content = (
        introductions.to_eml(made, at=now, notice=EMPLOYMENT_NOTICE)
        if fmt is DraftFormat.eml
        else introductions.to_text(made).encode()
    )
    if out is not None:
        out.write_bytes(content)
    payload = _draft_payload(record_type, record_id, name, chosen, made, fmt, out)

    def show(_: object) -> None:
        if out is not None:
            console.print(EMPLOYMENT_NOTICE, style="dim")
            console.print(f"Introduction request to {made.recipient.name} written to {out}")
        else:
            typer.echo(EMPLOYMENT_NOTICE)
            typer.echo(content.decode())

    emit(payload, as_json, show)


def _nobody(name: str, rows: list[dict[str, Any]], named: str | None) -> UserError:
    if named is None:
        return UserError(f"record: no colleague other than you is known to know {name} yet")
    known = ", ".join(str(row["email"]) for row in rows) or "none"
    return UserError(
        f"--to-colleague: {named!r} is not an introducer of {name}; introducers: {known}"
    )


def _draft_payload(
    record_type: str,
    record_id: str,
    name: str,
    chosen: Any,
    made: introductions.Draft,
    fmt: DraftFormat,
    out: Path | None,
) -> dict[str, Any]:
    return {
        "notice": EMPLOYMENT_NOTICE,
        "record_type": record_type,
        "record_id": record_id,
        "name": name,
        "introducer": {
            "name": chosen["full_name"],
            "email": chosen["email"],
            "strength": chosen["strength"],
            "strength_label": chosen["strength_label"],
            "last_interaction_at": chosen["last_interaction_at"],
        },
        "from": {"name": made.sender.name, "email": made.sender.email},
        "subject": made.subject,
        "body": made.body,
        "format": fmt.value,
        "out": None if out is None else str(out),
    }


def account(
    ctx: typer.Context,
    account_ref: Annotated[str, typer.Argument(metavar="ACCOUNT", help="account:ID or the id.")],
    as_json: JsonFlag = False,
) -> None:
    """Who knows this company best, and which of its people talk to us most."""
    from insights import introductions
    from storage import introductions_read
    from storage.engine import session_scope
    from storage.introducer_optout_read import without_excluded
    from worker.admin_settings import INTRODUCERS_SWITCH as SWITCH
    from worker.admin_settings import current_settings

    account_id = account_ref.strip().removeprefix("account:")
    cli = cli_of(ctx)
    store, excluded = cli.current_store(), cli.settings.excluded_users
    with session_scope(store) as session:
        name = introductions_read.account_name(session=session, account_id=account_id)
        if name is None:
            raise UserError(f"account: no account with id {account_id!r}")
        enabled = bool(current_settings(store)[SWITCH])
        rows = introductions_read.account_introducer_rows(session=session, account_id=account_id)
        shown = (
            without_excluded(session=session, rows=rows, configured=excluded, now=datetime.now(UTC))
            if enabled
            else []
        )
        kpis = introductions_read.account_contact_kpis(session=session, account_id=account_id)
    payload = {
        "notice": EMPLOYMENT_NOTICE,
        "account_id": account_id,
        "name": name,
        "who_knows_whom_enabled": enabled,
        "introducers": introductions.account_introducers(shown),
        "most_contacted_by_them": introductions.customer_most_contacted(kpis),
    }
    emit(payload, as_json, _account_report)


def _account_report(payload: dict[str, Any]) -> None:
    from worker.admin_settings import INTRODUCERS_SWITCH as SWITCH

    console.print(EMPLOYMENT_NOTICE, style="dim")
    table = Table(
        "#",
        "colleague",
        "email",
        "strength",
        "contacts known",
        "knows best",
        title=f"Who knows {payload['name']} best",
    )
    for row in payload["introducers"]:
        table.add_row(
            str(row["rank"]),
            row["name"],
            row["email"],
            f"{row['strength_label']} ({row['strength']})",
            str(row["contacts_known"]),
            row["best_known"]["name"],
        )
    if payload["introducers"]:
        console.print(table)
    elif not payload["who_knows_whom_enabled"]:
        console.print(f"Who knows whom is switched off ({SWITCH}).")
    else:
        console.print(f"No colleague is known to have a relationship with {payload['name']} yet.")
    people = Table(
        "contact",
        "from them",
        "emails",
        "meetings",
        "calls",
        title="Their people who talk to us most",
    )
    for row in payload["most_contacted_by_them"]:
        people.add_row(
            row["name"],
            str(row["from_them"]),
            str(row["emails_received"]),
            str(row["meetings_received"]),
            str(row["phone_calls_received"]),
        )
    console.print(
        people
        if payload["most_contacted_by_them"]
        else "None of their people has reached out to us in the KPI window."
    )
