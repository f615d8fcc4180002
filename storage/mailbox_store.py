"""Tenants and mailboxes: consent state, per-mailbox decisions and sync status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.audit import record_event
from storage.sync_store import CURSOR, SIGHTING, delete_orphans
from storage.sync_tables import Mailbox, Tenant
from storage.types import core_table

TENANT = core_table(Tenant)
MAILBOX = core_table(Mailbox)


@dataclass(frozen=True, slots=True)
class MailboxDecision:
    id: str
    tenant_id: str
    system_user_id: str | None
    data_location: str | None
    location_allowed: bool
    reason: str
    status: str | None  # set for mailboxes that will not be synced; None keeps the sync status


def record_consent(
    *,
    session: Session,
    tenant_id: str,
    state: str,
    reason: str,
    granted: list[str],
    missing: list[str],
    at: datetime,
    command: str,
) -> str | None:
    """Store the tenant's consent state; audit a change. Returns the previous state."""
    previous = session.execute(
        sa.select(TENANT.c.consent_state).where(TENANT.c.id == tenant_id)
    ).scalar()
    values = {
        "consent_state": state, "consent_reason": reason, "granted_roles": granted,
        "missing_roles": missing, "consent_checked_at": at,
    }  # fmt: skip
    if previous != state:
        values["consent_changed_at"] = at
    if previous is None:
        session.execute(sa.insert(TENANT).values(id=tenant_id, **values))
    else:
        session.execute(sa.update(TENANT).where(TENANT.c.id == tenant_id).values(values))
    if previous != state:
        record_event(
            session=session, at=at, command=command, action="consent_changed",
            subject=f"tenant:{tenant_id}",
            details={"from": previous, "to": state, "missing": missing},
        )  # fmt: skip
    return previous


def load_tenants(*, session: Session) -> list[dict[str, Any]]:
    return [row._asdict() for row in session.execute(sa.select(TENANT).order_by(TENANT.c.id))]


def save_decisions(*, session: Session, decisions: Sequence[MailboxDecision]) -> None:
    known = set(session.scalars(sa.select(MAILBOX.c.id)))
    for decision in decisions:
        values: dict[str, Any] = {
            "tenant_id": decision.tenant_id,
            "system_user_id": decision.system_user_id,
            "data_location": decision.data_location,
            "location_allowed": decision.location_allowed,
            "decision_reason": decision.reason,
        }
        if decision.status is not None:
            values["status"] = decision.status
        if decision.id in known:
            session.execute(sa.update(MAILBOX).where(MAILBOX.c.id == decision.id).values(values))
        else:
            values.setdefault("status", "never_synced")
            session.execute(sa.insert(MAILBOX).values(id=decision.id, items_ingested=0, **values))


def set_status(*, session: Session, mailbox_id: str, status: str, **values: Any) -> None:
    session.execute(
        sa.update(MAILBOX).where(MAILBOX.c.id == mailbox_id).values(status=status, **values)
    )


def add_ingested(*, session: Session, mailbox_id: str, items: int) -> None:
    session.execute(
        sa.update(MAILBOX)
        .where(MAILBOX.c.id == mailbox_id)
        .values(items_ingested=MAILBOX.c.items_ingested + items)
    )


def mark_tenant_mailboxes(*, session: Session, tenant_id: str, status: str, reason: str) -> None:
    session.execute(
        sa.update(MAILBOX)
        .where(MAILBOX.c.tenant_id == tenant_id, MAILBOX.c.location_allowed.is_(True))
        .values(status=status, last_error=reason)
    )


def drop_folder(*, session: Session, mailbox_id: str, folder_id: str) -> int:
    """A folder that vanished or is now excluded: its sightings and cursor go."""
    where = (SIGHTING.c.mailbox_id == mailbox_id) & (SIGHTING.c.folder_id == folder_id)
    keys = list(session.scalars(sa.select(SIGHTING.c.interaction_key).where(where)))
    session.execute(sa.delete(SIGHTING).where(where))
    session.execute(
        sa.delete(CURSOR).where(CURSOR.c.mailbox_id == mailbox_id, CURSOR.c.folder_id == folder_id)
    )
    return delete_orphans(session, keys)


def list_mailboxes(*, session: Session) -> list[dict[str, Any]]:
    cursor_age = (
        sa.select(CURSOR.c.mailbox_id, sa.func.min(CURSOR.c.updated_at).label("oldest_cursor"))
        .group_by(CURSOR.c.mailbox_id)
        .subquery()
    )
    query = (
        sa.select(MAILBOX, cursor_age.c.oldest_cursor)
        .outerjoin(cursor_age, cursor_age.c.mailbox_id == MAILBOX.c.id)
        .order_by(MAILBOX.c.tenant_id, MAILBOX.c.id)
    )
    return [row._asdict() for row in session.execute(query)]


def exchange_covered_users(*, session: Session) -> dict[str, datetime]:
    """System users whose mailbox is read from Exchange, and since when Exchange covers it.

    Only mailboxes that are currently synced count: when consent or geo
    rules Exchange out, their CRM activities count again.
    """
    query = sa.select(MAILBOX.c.system_user_id, MAILBOX.c.exchange_since).where(
        MAILBOX.c.system_user_id.is_not(None),
        MAILBOX.c.location_allowed.is_(True),
        MAILBOX.c.exchange_since.is_not(None),
        MAILBOX.c.status.in_(("ok", "syncing", "throttled")),
    )
    covered: dict[str, datetime] = {}
    for user_id, since in session.execute(query):
        covered[user_id] = since
    return covered
