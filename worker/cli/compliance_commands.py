"""What the compliance commands do, returning plain data the CLI prints or dumps as JSON.

Each function takes the store (its schema checked) from the command, calls one
compliance function and turns its refusals into UserError, so the CLI prints
one line and exits 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

import compliance
from compliance.exceptions import ExportNotAuditedError
from worker.failures import StoreError, UserError
from worker.settings import Settings


@contextmanager
def _refusals_as_user_errors() -> Iterator[None]:
    try:
        yield
    except compliance.ComplianceError as refusal:
        raise UserError(str(refusal)) from None
    except ExportNotAuditedError as unrecorded:  # the store's fault, not the request's
        raise StoreError(str(unrecorded)) from None


def export(store: Engine, subject: str, fmt: str, out: Path, now: datetime) -> dict[str, Any]:
    with _refusals_as_user_errors():
        delivery = compliance.deliver_export(store, subject, out=out, fmt=fmt, now=now)
    return {
        "subject": delivery.export.subject,
        "format": delivery.fmt,
        "format_version": delivery.export.format_version,
        "files": [str(path) for path in delivery.files],
        "counts": delivery.export.counts(),
        "holds_data": delivery.export.holds_data,
        "notice": delivery.export.notice,
        "unreadable": delivery.export.unreadable,  # CRM values exported as unknown
    }


def erase(
    store: Engine, settings: Settings, subject: str, dry_run: bool, now: datetime
) -> dict[str, Any]:
    with _refusals_as_user_errors():
        report = compliance.erase_subject(store, subject, now=now, dry_run=dry_run)
    return {
        "subject": report.subject,
        "dry_run": report.dry_run,
        "records": [{"record_type": t, "record_id": i} for t, i in report.records],
        "counts": report.counts,
        "subject_token": report.subject_token,
        "dataverse": (
            None if dry_run else _clear_in_dataverse(store, settings, set(report.records), now)
        ),
    }


def _clear_in_dataverse(
    store: Engine, settings: Settings, records: set[tuple[str, str]], now: datetime
) -> dict[str, Any] | None:
    """RAPPORT_CRM=dataverse: empty Rapport's columns on the subject's Dataverse records now
    (if Dataverse cannot be reached, the next tick's push does it: the erase stands)."""
    if settings.crm != "dataverse" or not records:
        return None
    import asyncio

    from worker.run.dataverse import push_dataverse

    return asyncio.run(push_dataverse(store, settings, now=now, only=records))


def release(store: Engine, subject: str, now: datetime) -> dict[str, Any]:
    with _refusals_as_user_errors():
        report = compliance.release_subject(store, subject, now=now)
    return {
        "subject": subject.strip(),
        "released": report.released,
        "subject_token": report.subject_token,
    }


def retention_purge(
    store: Engine, now: datetime, interaction_days: int, snapshot_days: int
) -> dict[str, Any]:
    with _refusals_as_user_errors():
        report = compliance.purge_retention(
            store,
            now=now,
            interaction_days=interaction_days,
            snapshot_daily_days=snapshot_days,
        )
    return {
        "interaction_cutoff": report.interaction_cutoff.isoformat(),
        "snapshot_cutoff": report.snapshot_cutoff.isoformat(),
        "counts": report.counts(),
        "interaction_days": interaction_days,
        "snapshot_daily_days": snapshot_days,
    }


def audit_list(store: Engine, since: datetime | None) -> dict[str, Any]:
    events = compliance.list_audit(store, since=since)
    return {"events": [{**event, "at": event["at"].isoformat()} for event in events]}
