"""The audit log as compliance reads and writes it.

`audit_event` is append-only except for one thing: an erasure replaces the
erased subject's identifiers in it by one-way tokens (compliance.hashing), so
the log keeps proving what happened without keeping who it happened to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from compliance.export import SubjectExport
from compliance.hashing import store_hasher
from storage.audit import list_events, record_event
from storage.engine import session_scope

EXPORT_COMMAND, EXPORT_ACTION = "export", "subject_exported"
EXPORT_FAILED_ACTION = "subject_export_failed"  # read, but no file was left: still audited
AUDIT_FIELDS = ("id", "at", "actor", "command", "action", "subject", "details")


def list_audit(engine: Engine, since: datetime | None = None) -> list[dict[str, Any]]:
    """Audit rows, oldest first, as plain dicts (the `at` value stays a UTC datetime)."""
    with session_scope(engine) as session:
        return [
            {name: getattr(event, name) for name in AUDIT_FIELDS}
            for event in list_events(session=session, since=since)
        ]


def audit_export(engine: Engine, export: SubjectExport, *, fmt: str, now: datetime) -> None:
    """Record that an export left the store, in its own transaction (see record_export)."""
    with session_scope(engine) as session:
        record_export(session, export, fmt=fmt, now=now)


def record_export(
    session: Session,
    export: SubjectExport,
    *,
    fmt: str,
    now: datetime,
    failure: str | None = None,
) -> None:
    """Record an export, or an export that failed, in the caller's transaction: its
    format and counts, never its content.

    An export that found nothing (the subject was erased, or never had data)
    names the subject by its token, so asking about an erased person does not
    put their address back into the store.
    """
    subject = export.subject
    if not export.holds_data:
        subject = store_hasher(session=session, now=now).token(export.subject)
    details: dict[str, Any] = {"format": fmt, "counts": export.counts()}
    if failure is not None:
        details["failure"] = failure
    record_event(
        session=session,
        at=now,
        command=EXPORT_COMMAND,
        action=EXPORT_ACTION if failure is None else EXPORT_FAILED_ACTION,
        subject=subject,
        details=details,
    )
