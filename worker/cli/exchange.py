"""`rapport consent url|check` and `rapport mailboxes list`: the Exchange path for IT admins.

Mounted on the main app by `register(app)`. Each command loads settings the
way worker.cli.commands does, calls one function and prints a table or JSON.
`consent check` exits 0 when consent is granted, 3 when it is not
(EXIT_NO_CONSENT) and 2 when the app registration is not configured.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from consent.admin_url import admin_consent_url
from consent.check import GRANTED, NOT_CONFIGURED, ConsentOutcome
from consent.data_location import residency_hint, unknown_residency
from consent.permissions import REQUIRED_ROLES
from worker.cli.context import cli_of
from worker.cli.output import JsonFlag, console, emit
from worker.failures import EXIT_BAD_INPUT, EXIT_NO_CONSENT, EXIT_OK, UserError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from worker.settings import Settings

consent_app = typer.Typer(help="Admin consent for Microsoft Graph.", no_args_is_help=True)
mailboxes_app = typer.Typer(help="Exchange mailboxes and their sync status.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the consent and mailboxes commands to `app`; a second call changes nothing."""
    if any(group.name == "consent" for group in app.registered_groups):
        return
    app.add_typer(consent_app, name="consent")
    app.add_typer(mailboxes_app, name="mailboxes")


def _jsonable(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _print_hint(hint: str | None) -> None:
    if hint:
        console.print(f"hint: {hint}")


# --- consent url ----------------------------------------------------------------------


def consent_url_payload(settings: Settings) -> dict[str, Any]:
    if not settings.graph_configured:
        raise UserError(
            "consent url: set RAPPORT_TENANT_ID and RAPPORT_CLIENT_ID (the app registration's "
            "directory and application ids) first"
        )
    assert settings.tenant_id is not None and settings.client_id is not None
    state = secrets.token_urlsafe(16)
    return {
        "url": admin_consent_url(
            authority_host=settings.authority_host,
            tenant_id=settings.tenant_id,
            client_id=settings.client_id,
            redirect_uri=settings.consent_redirect_uri,
            state=state,
        ),
        "tenant_id": settings.tenant_id,
        "client_id": settings.client_id,
        "redirect_uri": settings.consent_redirect_uri,
        "state": state,
        "permissions": [{"permission": p, "needed_for": why} for p, why in REQUIRED_ROLES.items()],
    }


@consent_app.command("url")
def consent_url(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Print the admin-consent URL for a global admin of the tenant to open."""
    emit(consent_url_payload(cli_of(ctx).settings), as_json, _print_url)


def _print_url(payload: dict[str, Any]) -> None:
    console.print("A global admin of the tenant opens this URL and accepts:")
    console.print(payload["url"], soft_wrap=True)
    console.print(f"It grants these application permissions (redirect: {payload['redirect_uri']}):")
    for permission in payload["permissions"]:
        console.print(f"  {permission['permission']}: {permission['needed_for']}")
    console.print(f"state {payload['state']} (compare it with the one on the redirect)")


# --- consent check --------------------------------------------------------------------


def check_payload(outcome: ConsentOutcome, settings: Settings, at: datetime) -> dict[str, Any]:
    from worker.run.exchange import location_policy

    payload: dict[str, Any] = {
        "tenant_id": settings.tenant_id,
        "state": outcome.state,
        "reason": outcome.reason,
        "checked_at": at,
        "granted": outcome.granted,
        "missing": [{"permission": p, "needed_for": why} for p, why in outcome.needed_for.items()],
        "broader_than_needed": outcome.broader,
        "probe": outcome.probe,
        "consent_url": None,
        # Consent alone reads nothing if no mailbox has a known residency: say so here,
        # where an admin setting Rapport up looks first.
        "hint": residency_hint(location_policy(settings)) if settings.graph_configured else None,
    }
    if outcome.state != GRANTED and settings.graph_configured:
        payload["consent_url"] = consent_url_payload(settings)["url"]
    return payload


def exit_code(state: str) -> int:
    if state == GRANTED:
        return EXIT_OK
    return EXIT_BAD_INPUT if state == NOT_CONFIGURED else EXIT_NO_CONSENT


@consent_app.command("check")
def consent_check(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Ask for a token, name each missing permission, confirm with one probe call."""
    from worker.run.exchange import check_tenant_consent

    cli = cli_of(ctx)
    settings, store = cli.settings, cli.current_store()
    now = datetime.now(UTC)
    outcome = asyncio.run(check_tenant_consent(store, settings, now, command="consent check"))
    payload = check_payload(outcome, settings, now)
    emit(payload, as_json, _print_check, default=_jsonable)
    code = exit_code(outcome.state)
    if code != EXIT_OK:
        raise typer.Exit(code)


def _print_check(payload: dict[str, Any]) -> None:
    verdict = {"granted": "[green]granted[/green]"}.get(payload["state"], payload["state"])
    console.print(f"tenant {payload['tenant_id'] or '-'}: consent {verdict}: {payload['reason']}")
    if payload["granted"]:
        console.print("granted roles: " + ", ".join(payload["granted"]))
    for missing in payload["missing"]:
        console.print(f"  missing {missing['permission']}: needed to {missing['needed_for']}")
    for role in payload["broader_than_needed"]:
        console.print(f"  broader than needed: {role} (the ReadBasic permission is enough)")
    console.print(f"probe call: {payload['probe']}")
    if payload["consent_url"]:
        console.print("grant consent at:")
        console.print(payload["consent_url"], soft_wrap=True)
    _print_hint(payload["hint"])


# --- mailboxes list -------------------------------------------------------------------


def mailboxes_payload(store: Engine, settings: Settings, now: datetime) -> dict[str, Any]:
    from storage.engine import session_scope
    from storage.mailbox_store import list_mailboxes, load_tenants
    from worker.run.exchange import location_policy

    with session_scope(store) as session:
        tenants = load_tenants(session=session)
        rows = list_mailboxes(session=session)
    return {
        "tenants": [
            {
                key: tenant[key]
                for key in (
                    "id",
                    "consent_state",
                    "consent_reason",
                    "missing_roles",
                    "consent_checked_at",
                )
            }
            for tenant in tenants
        ],
        "mailboxes": [_mailbox(row, now) for row in rows],
        "hint": residency_hint(location_policy(settings), _unknown_residency(rows)),
    }


def _unknown_residency(rows: list[dict[str, Any]]) -> int:
    return sum(1 for row in rows if unknown_residency(row["status"], row["data_location"]))


def _mailbox(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    oldest = row["oldest_cursor"]
    return {
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "system_user_id": row["system_user_id"],
        "system_user": row["system_user_email"],
        "status": row["status"],
        "reason": row["decision_reason"],
        "data_location": row["data_location"],
        "location_allowed": row["location_allowed"],
        "last_error": row["last_error"],
        "last_attempt_at": row["last_attempt_at"],
        "last_success_at": row["last_success_at"],
        "items_ingested": row["items_ingested"],
        "cursor_age_seconds": None if oldest is None else round((now - oldest).total_seconds()),
    }


@mailboxes_app.command("list")
def mailboxes_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every mailbox considered: status, why, residency, last error and success, progress."""
    cli = cli_of(ctx)
    payload = mailboxes_payload(cli.current_store(), cli.settings, datetime.now(UTC))
    emit(payload, as_json, _print_mailboxes)


def _print_mailboxes(payload: dict[str, Any]) -> None:
    for tenant in payload["tenants"]:
        console.print(
            f"tenant {tenant['id']}: consent {tenant['consent_state']} "
            f"({tenant['consent_reason'] or 'not checked'})"
        )
    if not payload["mailboxes"]:
        console.print("no mailboxes yet: run `rapport run --once` with Graph configured")
        return
    table = Table(title="Mailboxes", box=None, pad_edge=False)
    table.add_column("mailbox", overflow="fold")
    for name in ("status", "geo", "last success", "items", "cursor age"):
        table.add_column(name, no_wrap=True, justify="left" if name == "status" else "right")
    notes: list[str] = []
    now = datetime.now(UTC)
    for mailbox in payload["mailboxes"]:
        name = mailbox["system_user"] or mailbox["id"]
        success = mailbox["last_success_at"]
        table.add_row(
            name,
            mailbox["status"],
            mailbox["data_location"] or "?",
            "-" if success is None else _age(round((now - success).total_seconds())) + " ago",
            str(mailbox["items_ingested"]),
            _age(mailbox["cursor_age_seconds"]),
        )
        # Why a mailbox is not read, or what stopped its last round: one line each.
        if mailbox["last_error"] or mailbox["status"] != "ok":
            notes.append(f"{name}: {mailbox['last_error'] or mailbox['reason']}")
    console.print(table)
    for note in notes:
        console.print(f"  {note}")
    _print_hint(payload["hint"])


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{max(seconds, 0)} s"
