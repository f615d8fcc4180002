"""Appending to and reading the audit log (audit_event is append-only)."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.rapport_tables import AuditEvent


def current_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. an arbitrary container uid
        return "unknown"


def record_event(
    *,
    session: Session,
    at: datetime,
    command: str,
    action: str,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Add one audit row to the caller's transaction, so it commits with the change."""
    session.execute(
        sa.insert(AuditEvent).values(
            at=at,
            actor=actor or current_actor(),
            command=command,
            action=action,
            subject=subject,
            details=details or {},
        )
    )


def list_events(*, session: Session, since: datetime | None = None) -> list[AuditEvent]:
    query = sa.select(AuditEvent).order_by(AuditEvent.id)  # type: ignore[arg-type]
    if since is not None:
        query = query.where(AuditEvent.at >= since)  # type: ignore[arg-type]
    return list(session.scalars(query))
