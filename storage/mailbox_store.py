"""Tenants and mailboxes: consent state, per-mailbox decisions and sync status.

When Exchange is ruled out for a mailbox (consent withdrawn, a 403, data
residency, scope), its Exchange-sourced data leaves at once: sightings,
cursors and every interaction no other mailbox still sees. Its colleague's
CRM activities then count again, with nothing counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.audit import record_event
from storage.crm_tables import SystemUser
from storage.interaction_store import chunks
from storage.sync_store import CURSOR, SIGHTING, delete_orphans
from storage.sync_tables import Mailbox, Tenant
from storage.types import core_table

TENANT = core_table(Tenant)
MAILBOX = core_table(Mailbox)
SYSTEM_USER = core_table(SystemUser)
WITHDRAWN_CONSENT = frozenset({"missing", "revoked"})
# Statuses under which a mailbox is not read and holds no Exchange data.
RULED_OUT = ("consent_missing", "location_excluded", "out_of_scope")
# Statuses of a mailbox whose Exchange data is kept and resumed by the next round.
IN_PROGRESS = ("syncing", "throttled", "interrupted")


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
        "consent_state": state,
        "consent_reason": reason,
        "granted_roles": granted,
        "missing_roles": missing,
        "consent_checked_at": at,
    }
    if previous != state:
        values["consent_changed_at"] = at
    if previous is None:
        session.execute(sa.insert(TENANT).values(id=tenant_id, **values))
    else:
        session.execute(sa.update(TENANT).where(TENANT.c.id == tenant_id).values(values))
    if previous != state:
        record_event(
            session=session,
            at=at,
            command=command,
            action="consent_changed",
            subject=f"tenant:{tenant_id}",
            details={"from": previous, "to": state, "missing": missing},
        )
    return previous


def load_tenants(*, session: Session) -> list[dict[str, Any]]:
    return [row._asdict() for row in session.execute(sa.select(TENANT).order_by(TENANT.c.id))]


def save_decisions(
    *, session: Session, decisions: Sequence[MailboxDecision], at: datetime, command: str = "run"
) -> int:
    """Store each mailbox's decision; a mailbox ruled out loses its Exchange data.

    Returns the number of interactions removed with it.
    """
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
    ruled_out = [d.id for d in decisions if d.status is not None and d.id in known]
    return purge_exchange_data(
        session=session, mailbox_ids=ruled_out, at=at, command=command, reason="mailbox ruled out"
    )


def purge_exchange_data(
    *, session: Session, mailbox_ids: Sequence[str], at: datetime, command: str, reason: str
) -> int:
    """Remove what these mailboxes contributed: sightings, cursors, unshared interactions.

    Audited when anything was held. Returns the number of interactions removed.
    """
    keys: set[str] = set()
    held: list[str] = []
    for batch in chunks(mailbox_ids):
        where = SIGHTING.c.mailbox_id.in_(batch)
        found = session.execute(
            sa.select(SIGHTING.c.mailbox_id, SIGHTING.c.interaction_key).where(where)
        ).all()
        keys.update(key for _, key in found)
        held += sorted({mailbox for mailbox, _ in found})
        session.execute(sa.delete(SIGHTING).where(where))
        session.execute(sa.delete(CURSOR).where(CURSOR.c.mailbox_id.in_(batch)))
        session.execute(
            sa.update(MAILBOX)
            .where(MAILBOX.c.id.in_(batch))
            .values(exchange_since=None, items_ingested=0)
        )
    removed = delete_orphans(session, keys)
    if held:
        record_event(
            session=session,
            at=at,
            command=command,
            action="exchange_data_purged",
            details={"reason": reason, "mailboxes": held, "interactions_removed": removed},
        )
    return removed


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


def withdraw_tenant(
    *, session: Session, tenant_id: str, reason: str, at: datetime, command: str
) -> int:
    """Consent is gone: every readable mailbox of the tenant is marked and loses its data."""
    where = (MAILBOX.c.tenant_id == tenant_id) & MAILBOX.c.location_allowed.is_(True)
    mailbox_ids = list(session.scalars(sa.select(MAILBOX.c.id).where(where)))
    session.execute(
        sa.update(MAILBOX)
        .where(where)
        .values(status="consent_missing", last_error=reason, syncing_since=None)
    )
    return purge_exchange_data(
        session=session, mailbox_ids=mailbox_ids, at=at, command=command, reason=reason
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
    """Every mailbox with its colleague's address and the age of its oldest cursor."""
    cursor_age = (
        sa.select(CURSOR.c.mailbox_id, sa.func.min(CURSOR.c.updated_at).label("oldest_cursor"))
        .group_by(CURSOR.c.mailbox_id)
        .subquery()
    )
    query = (
        sa.select(
            MAILBOX, cursor_age.c.oldest_cursor, SYSTEM_USER.c.email.label("system_user_email")
        )
        .outerjoin(cursor_age, cursor_age.c.mailbox_id == MAILBOX.c.id)
        .outerjoin(SYSTEM_USER, SYSTEM_USER.c.id == MAILBOX.c.system_user_id)
        .order_by(MAILBOX.c.tenant_id, MAILBOX.c.status, SYSTEM_USER.c.email, MAILBOX.c.id)
    )
    return [row._asdict() for row in session.execute(query)]


def exchange_covered_users(*, session: Session) -> dict[str, datetime]:
    """System users whose mailbox is read from Exchange, and since when Exchange covers it.

    A mailbox covers its user while its Exchange data is kept: after a
    successful round, or while its first backfill is under way (throttled or
    interrupted rounds resume). A pause (token failure, a failed round after
    a success) keeps the coverage: the next round brings what was missed. A
    mailbox that never completed a round and failed (e.g. an on-premises
    mailbox) does not cover, and a ruled-out one has no Exchange data left.
    """
    query = sa.select(MAILBOX.c.system_user_id, MAILBOX.c.exchange_since).where(
        MAILBOX.c.system_user_id.is_not(None),
        MAILBOX.c.location_allowed.is_(True),
        MAILBOX.c.exchange_since.is_not(None),
        MAILBOX.c.status.not_in(RULED_OUT),
        MAILBOX.c.last_success_at.is_not(None) | MAILBOX.c.status.in_(IN_PROGRESS),
    )
    covered: dict[str, datetime] = {}
    for user_id, since in session.execute(query):
        covered[user_id] = since
    return covered
